"""Running the predictor on one batch: device transfer, precision, out-of-memory recovery.

The engine hands numpy patches in and gets one float32 numpy array per output back; how they
got through the model (which device, which autocast, how many sub-batches) is decided here.
On CUDA out-of-memory the batch is halved and retried, down to 1; then the model moves to the
CPU. Each step is logged and recorded, because a silent slowdown is worse than an error.
A network given as an ``nn.Module`` is first replaced by its prepared copy
(:mod:`marsspec.core.tiling.prepare`) once that copy has given the same answer on a patch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from marsspec.core.devices import auto_precision, describe_device, inference
from marsspec.core.errors import InputError, MarsspecError
from marsspec.core.tiling.outputs import OutputSpec
from marsspec.core.tiling.prepare import PREPARED_MARK, prepare_for_inference

log = logging.getLogger("marsspec.tiling")

Predictor = Callable[[torch.Tensor], object]

# The prepared copy must match the original to this fraction of the output's range (fp32);
# exact rewrites differ by rounding only, about 1e-6.
PREPARE_TOLERANCE = 1e-4


class BatchForward:
    """Calls ``predictor`` on patches; keeps device, precision and batch size up to date."""

    def __init__(
        self,
        predictor: Predictor,
        specs: Sequence[OutputSpec],
        *,
        device: torch.device,
        precision: str,
        batch_size: int,
        patch_size: int,
        channels_last: bool = True,
        prepare: bool = True,
        notify: Callable[[str], object] | None = None,
    ) -> None:
        self.predictor = predictor
        self.notify = notify
        self.specs = tuple(specs)
        self.device = device
        self.precision = precision  # "auto" until the first batch resolves it
        self.batch_size = batch_size
        self._initial_batch_size = batch_size
        self.patch_size = patch_size
        self.channels_last = channels_last
        self.calls = 0
        self.patches = 0
        self.events: list[str] = []
        self.device_description = describe_device(device)
        self._checked = False
        self.preparation = "off"
        self._prepare = prepare and isinstance(predictor, torch.nn.Module)
        if isinstance(predictor, torch.nn.Module):
            predictor.to(device)

    def __call__(self, data: np.ndarray) -> list[np.ndarray]:
        """Outputs for ``data`` (n, bands, size, size): one (n, C, size*k, size*k) per spec."""
        if self.precision == "auto":
            self._choose_precision(data)
        if self._prepare:
            self._prepare = False
            self._use_prepared(data)
        pieces: list[list[np.ndarray]] = [[] for _ in self.specs]
        start = 0
        while start < len(data):
            chunk = data[start : start + self.batch_size]
            try:
                parts = self._once(chunk)
            except torch.OutOfMemoryError:
                self._recover()
                continue
            for piece, part in zip(pieces, parts, strict=True):
                piece.append(part)
            start += len(chunk)
        return [p[0] if len(p) == 1 else np.concatenate(p) for p in pieces]

    def _tensor(self, chunk: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(chunk).to(self.device, non_blocking=True)
        if self.channels_last:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def _once(self, chunk: np.ndarray) -> list[np.ndarray]:
        with inference(self.device, self.precision):
            prediction = self.predictor(self._tensor(chunk))
            parts = [spec.select(prediction).float() for spec in self.specs]
        self.calls += 1
        self.patches += len(chunk)
        if not self._checked:
            self._check_shapes(parts, len(chunk))
        # Row-major copies (torch copies with all its threads): a channels_last output seen
        # from numpy is strided, and blending it costs 2.5x more than a contiguous one.
        return [part.contiguous().cpu().numpy() for part in parts]

    def _check_shapes(self, parts: list[torch.Tensor], n: int) -> None:
        for spec, part in zip(self.specs, parts, strict=True):
            edge = self.patch_size * spec.scale
            if part.shape[0] != n or part.shape[2:] != (edge, edge):
                raise InputError(
                    f"The predictor returned {tuple(part.shape)} for {n} patches of "
                    f"{self.patch_size} px; output {spec.path} expects (N, C, {edge}, {edge}) "
                    f"with scale={spec.scale}. Set OutputSpec.scale to the model's factor."
                )
            if spec.descriptions and len(spec.descriptions) != part.shape[1]:
                raise InputError(
                    f"Output {spec.path} has {len(spec.descriptions)} band descriptions but the "
                    f"predictor gives {part.shape[1]} channels; give one description per band."
                )
        self._checked = True

    def _choose_precision(self, data: np.ndarray) -> None:
        """``auto`` from the device and the model alone (no timing): the same every call."""
        choice = auto_precision(self.device, self.predictor)
        self.precision = choice.precision
        self._event(f"precision auto: {choice.reason}", logging.INFO)

    def _use_prepared(self, data: np.ndarray) -> None:
        """Swap in the prepared copy if it gives the original's answer on the first patch."""
        original = self.predictor
        try:
            prepared = prepare_for_inference(original)  # type: ignore[arg-type]
        except Exception as exc:  # an optimisation must never stop a run
            self._event(f"model used as given: preparing it failed ({exc})", logging.INFO)
            return
        if not prepared.changed:
            if getattr(original, PREPARED_MARK, False):
                self.preparation = "prepared by the caller (prepare_for_inference)"
            return
        prepared.module.to(self.device)
        sample = self._tensor(data[:1])
        with inference(self.device, "fp32"):
            want = [spec.select(original(sample)).float() for spec in self.specs]
            try:
                got = [spec.select(prepared.module(sample)).float() for spec in self.specs]
            except Exception as exc:  # e.g. a parent reading an attribute the graph dropped
                self._event(f"model used as given: the prepared copy failed ({exc})")
                return
        deviation = max(
            float((g - w).abs().max()) / (float(w.max() - w.min()) or 1.0)
            for g, w in zip(got, want, strict=True)
        )
        if not deviation <= PREPARE_TOLERANCE:  # also catches NaN
            self._event(
                f"model used as given: the prepared copy deviated by {deviation:.2e} of the "
                "output range on the first patch"
            )
            return
        self.predictor = prepared.module
        self.preparation = prepared.summary()
        self._event(
            f"model prepared for inference: {self.preparation} (max deviation "
            f"{deviation:.1e} of the range on the first patch)",
            logging.INFO,
        )

    def _event(self, message: str, level: int = logging.WARNING) -> None:
        """Record a decision, log it, and tell the caller's ``log`` callback (QGIS feedback)."""
        log.log(level, message)
        self.events.append(message)
        if self.notify is not None:
            self.notify(message)

    def _recover(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.batch_size > 1:
            self.batch_size //= 2
            self._event(f"out of memory on {self.device}: batch size halved to {self.batch_size}")
            return
        if self.device.type == "cuda" and hasattr(self.predictor, "to"):
            self.predictor.to("cpu")
            old = self.device_description
            self.device = torch.device("cpu")
            self.batch_size = self._initial_batch_size
            self.precision = "fp32" if self.precision == "fp16" else self.precision
            self.device_description = f"{old} -> cpu (out of memory)"
            self._event(f"out of memory on {old} at batch size 1: continuing on the CPU")
            return
        raise MarsspecError(
            f"Out of memory on {self.device} even with one patch per batch; lower d or use a "
            "device with more memory."
        )
