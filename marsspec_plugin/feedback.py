"""Turn QgsProcessingFeedback into the plain callables the engine takes."""

from __future__ import annotations

from collections.abc import Callable

from qgis.core import QgsProcessingFeedback


def progress_callback(feedback: QgsProcessingFeedback) -> Callable[[float], None]:
    """A callable taking a fraction in [0, 1]."""

    def report(fraction: float) -> None:
        feedback.setProgress(100.0 * min(max(fraction, 0.0), 1.0))

    return report


def cancel_callback(feedback: QgsProcessingFeedback) -> Callable[[], bool]:
    return feedback.isCanceled


def log_callback(feedback: QgsProcessingFeedback) -> Callable[[str], None]:
    return feedback.pushInfo


def warning_callback(feedback: QgsProcessingFeedback) -> Callable[[str], None]:
    """For jobs whose log carries only warnings (spectral prediction): shown highlighted."""
    return feedback.pushWarning
