"""Device (``auto|cpu|cuda[:n]``) and precision (``auto|fp32|bf16|fp16``) of a model run.

Rules (one place, so every algorithm decides the same way):

* device ``auto`` is the first CUDA GPU when torch sees one, else the CPU; ``cuda`` without a
  GPU is an error that says so (never a silent CPU run that takes hours).
* precision ``auto`` is fp16 on a GPU. On a CPU it is bf16 *only where it pays*. A CPU without
  native bf16 instructions (x86 without AVX512-BF16/AMX) emulates it 10-30x slower than fp32,
  so there ``auto`` is fp32 without any probe. Elsewhere a short probe on one patch of the
  first real batch times fp32 against bf16 autocast and compares their outputs; bf16 wins if
  it is at least :data:`BF16_MIN_SPEEDUP` faster and its largest deviation stays within
  ``tolerance`` of the fp32 output range. The choice is cached per predictor for the process,
  so repeated runs agree; pin ``fp32`` for runs that must be bit-identical across processes.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from marsspec.core.errors import InputError
from marsspec.core.options import PRECISIONS

log = logging.getLogger("marsspec.devices")

BF16_MIN_SPEEDUP = 1.15
DEFAULT_BF16_TOLERANCE = 0.02
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a usable :class:`torch.device`."""
    text = (spec or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError as exc:
        raise InputError(f"Unknown device {spec!r}; use auto, cpu, cuda or cuda:N.") from exc
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise InputError(f"Device type {device.type!r} is not supported; use auto, cpu or cuda.")
    if not torch.cuda.is_available():
        raise InputError(
            f"Device {spec!r} was requested but this torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device='cpu' or 'auto', or install a CUDA build "
            "of torch and the NVIDIA driver."
        )
    index = 0 if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise InputError(
            f"Device {spec!r} does not exist: {torch.cuda.device_count()} GPU(s) visible; "
            f"use cuda:0..cuda:{torch.cuda.device_count() - 1}."
        )
    return torch.device("cuda", index)


def describe_device(device: torch.device) -> str:
    """Device name for logs and provenance, e.g. ``cuda:0 (NVIDIA H100)`` or ``cpu``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def check_precision(spec: str, device: torch.device) -> str:
    """Validate a precision for a device; returns the spec, ``auto`` still unresolved on CPU."""
    text = (spec or "auto").strip().lower()
    if text not in PRECISIONS:
        raise InputError(f"Unknown precision {spec!r}; use one of {', '.join(PRECISIONS)}.")
    if device.type == "cuda":
        if text == "auto":
            return "fp16"
        if text == "bf16" and not torch.cuda.is_bf16_supported():
            raise InputError(f"{device} does not support bf16; use fp16 or fp32.")
        return text
    if text == "fp16":
        raise InputError("fp16 is a GPU precision (slow and inexact on CPUs); use bf16 or fp32.")
    return text


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str
    reason: str


_probe_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cpu_has_native_bf16() -> bool | None:
    """True/False from the Linux CPU flags on x86 (AVX512-BF16 or AMX-BF16); None if unknown."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return None
    return None  # no x86 flags line (e.g. ARM): let the probe decide


def _timed(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def probe_cpu_precision(
    predictor: Callable[[torch.Tensor], object],
    sample: torch.Tensor,
    *,
    tolerance: float = DEFAULT_BF16_TOLERANCE,
    first_output: Callable[[object], torch.Tensor] = lambda out: out,  # type: ignore[return-value]
) -> PrecisionChoice:
    """Decide fp32 vs bf16 on the CPU for this predictor by measuring both on ``sample``."""
    with contextlib.suppress(TypeError):
        cached = _probe_cache.get(predictor)
        if cached is not None:
            return cached
    if cpu_has_native_bf16() is False:
        choice = PrecisionChoice("fp32", "this CPU has no native bf16 (emulated bf16 is slow)")
        log.info("precision auto on CPU: %s", choice.reason)
        return choice
    sample = sample[:1]

    def run(precision: str) -> torch.Tensor:
        with torch.inference_mode(), autocast(torch.device("cpu"), precision):
            return first_output(predictor(sample)).float()

    ref, _ = _timed(lambda: run("fp32"))  # the first calls also warm up both code paths
    low, _ = _timed(lambda: run("bf16"))
    _, t32 = _timed(lambda: run("fp32"))
    _, t16 = _timed(lambda: run("bf16"))
    span = float(ref.max() - ref.min()) or 1.0
    deviation = float((low - ref).abs().max()) / span
    speedup = t32 / max(t16, 1e-9)
    if speedup >= BF16_MIN_SPEEDUP and deviation <= tolerance:
        choice = PrecisionChoice("bf16", f"bf16 {speedup:.2f}x faster, max dev {deviation:.2%}")
    else:
        choice = PrecisionChoice(
            "fp32", f"bf16 speed-up {speedup:.2f}x, max dev {deviation:.2%}: kept fp32"
        )
    log.info("precision auto on CPU: %s", choice.reason)
    with contextlib.suppress(TypeError):
        _probe_cache[predictor] = choice
    return choice


@contextlib.contextmanager
def inference(device: torch.device, precision: str) -> Iterator[None]:
    """``inference_mode`` plus autocast: the context every forward pass runs in."""
    with torch.inference_mode(), autocast(device, precision):
        yield
