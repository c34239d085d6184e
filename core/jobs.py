"""One job contract for every adapter: ``run(request) -> result``.

A request is a frozen dataclass that checks itself when it is made (stride, bands, sizes,
output paths against the inputs: :mod:`marsspec.core.io.safety`), so a bad parameter fails
before anything is read or written, in the same words from QGIS and from the command line.
Progress, cancel and log are plain callables, so neither adapter's feedback type leaks into
the library. Every result lists its ``outputs`` (name -> path) and its ``events`` (warnings,
precision choices, out-of-memory steps, fall-backs: what a user should know about the run).

==================  =========================================  =======================
request             job                                        result
==================  =========================================  =======================
PredictRequest      spectral prediction and/or bin confidence  PredictResult
SuperresRequest     4x super-resolution                        SuperresResult
CoregRequest        CRISM -> CTX co-registration               CoregResult
PairsRequest        a training pair (co-registered scene)      PairsResult
GeorefRequest       a Mars CRS for a raster without one        GeorefResult
==================  =========================================  =======================

This module imports nothing heavy: the job modules load when a job runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[float], object]
CancelCallback = Callable[[], bool]
LogCallback = Callable[[str], object]


class Feedback:
    """A run's three callables in one place, with the messages it said (its ``events``):
    ``say`` logs, ``stage`` reports progress and stops a cancelled run, ``cancelled`` asks."""

    def __init__(
        self,
        progress: ProgressCallback | None,
        cancel: CancelCallback | None,
        log: LogCallback | None,
        cancelled_message: str,
    ) -> None:
        self._progress, self._cancel, self._log = progress, cancel, log
        self._cancelled_message = cancelled_message
        self.messages: list[str] = []

    def say(self, text: str) -> None:
        self.messages.append(text)
        if self._log is not None:
            self._log(text)

    def cancelled(self) -> bool:
        return self._cancel is not None and bool(self._cancel())

    def stage(self, fraction: float) -> None:
        if self.cancelled():
            from marsspec.core.errors import CancelledError

            raise CancelledError(self._cancelled_message)
        if self._progress is not None:
            self._progress(fraction)


# request class name -> (module, job function)
JOBS: dict[str, tuple[str, str]] = {
    "PredictRequest": ("marsspec.core.spectral.job", "predict_spectra"),
    "SuperresRequest": ("marsspec.core.superres.job", "superresolve"),
    "CoregRequest": ("marsspec.core.coreg.pipeline", "coregister"),
    "PairsRequest": ("marsspec.core.coreg.pairs", "make_pair"),
    "GeorefRequest": ("marsspec.core.io.georef", "georeference"),
}


def run(
    request: Any,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    log: LogCallback | None = None,
) -> Any:
    """Run the job ``request`` describes; see the table in the module docstring."""
    name = type(request).__name__
    if name not in JOBS:
        raise TypeError(f"{name} is not a job request; use one of {', '.join(JOBS)}.")
    module, function = JOBS[name]
    job = getattr(importlib.import_module(module), function)
    return job(request, progress=progress, cancel=cancel, log=log)
