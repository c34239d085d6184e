"""Device (``auto|cpu|cuda[:n]``) and precision (``auto|fp32|bf16|fp16``) of a model run.

Rules (one place, so every algorithm decides the same way):

* device ``auto`` is the first CUDA GPU when torch sees one, else the CPU; ``cuda`` without a
  GPU is an error that says so (never a silent CPU run that takes hours).
* precision ``auto`` is decided from the device and the model alone, never from a timing, so
  identical calls on one machine always choose the same (issue 22: a timing race chose bf16 in
  12 and fp32 in 10 of 22 identical CPU calls). On a CPU it is fp32, always: bf16 is only used
  when asked for (``bf16``). On a GPU it is bf16 for a model whose weights are bf16 (when the GPU
  supports bf16), else fp16 on compute capability 7.0+ (tensor cores), else fp32. The choice
  and its reason are recorded in the run's events and its ``MARSSPEC_PRECISION`` tag.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from marsspec.core.errors import InputError
from marsspec.core.options import PRECISIONS

log = logging.getLogger("marsspec.devices")

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
    """Validate a precision for a device; returns the spec, ``auto`` still unresolved (the
    forward pass resolves it with :func:`auto_precision`, which also looks at the model)."""
    text = (spec or "auto").strip().lower()
    if text not in PRECISIONS:
        raise InputError(f"Unknown precision {spec!r}; use one of {', '.join(PRECISIONS)}.")
    if device.type == "cuda":
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


def model_dtype(model: object) -> torch.dtype | None:
    """The floating dtype of a module's first parameter; None for a plain callable."""
    if isinstance(model, torch.nn.Module):
        for parameter in model.parameters():
            if parameter.is_floating_point():
                return parameter.dtype
    return None


def auto_precision(device: torch.device, model: object = None) -> PrecisionChoice:
    """What ``auto`` means for ``device`` and ``model``: a fixed rule, no timing (see above)."""
    if device.type != "cuda":
        return PrecisionChoice("fp32", "fp32 on the CPU (auto never picks bf16 there)")
    name = describe_device(device)
    if model_dtype(model) == torch.bfloat16 and torch.cuda.is_bf16_supported():
        return PrecisionChoice("bf16", f"bf16 on {name}: the model's weights are bf16")
    major, minor = torch.cuda.get_device_capability(device)
    if major >= 7:
        return PrecisionChoice("fp16", f"fp16 on {name} (compute capability {major}.{minor})")
    return PrecisionChoice("fp32", f"fp32 on {name} (compute capability {major}.{minor} < 7.0)")


@contextlib.contextmanager
def inference(device: torch.device, precision: str) -> Iterator[None]:
    """``inference_mode`` plus autocast: the context every forward pass runs in."""
    with torch.inference_mode(), autocast(device, precision):
        yield
