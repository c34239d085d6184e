"""marsspec's error classes.

One root, :class:`MarsspecError`; each subclass also inherits the builtin it resembles, so
callers can catch either (``except ValueError`` still works for bad input). Messages name the
problem and the fix. The QGIS adapters turn any of these into a ``QgsProcessingException`` with
the same message, once, at the algorithm boundary.
"""

from __future__ import annotations


class MarsspecError(Exception):
    """Root of every error marsspec raises on purpose."""


class InputError(MarsspecError, ValueError):
    """A parameter or an input dataset is unusable (wrong band, no CRS, bad size...)."""


class RasterIOError(MarsspecError, OSError):
    """A file could not be read or written."""


class ModelNotFoundError(MarsspecError, KeyError):
    """A model id is not in the manifest, or its weights file is missing or corrupt."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(MarsspecError, ImportError):
    """An optional Python package (torch, arosics...) is not installed in this Python."""


class CancelledError(MarsspecError):
    """The user cancelled; nothing was written at the output path."""
