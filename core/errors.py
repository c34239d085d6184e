"""marsspec's error classes, all of them (tests/test_errors.py checks that none lives elsewhere).

One root, :class:`MarsspecError`; each subclass also inherits the builtin it resembles, so
callers can catch either (``except ValueError`` still works for bad input). Messages name the
problem and the fix. The QGIS adapters turn any of these into a ``QgsProcessingException`` with
the same message, once, at the algorithm boundary; the command line prints it as one line.

::

    MarsspecError                          root: every error marsspec raises on purpose
    +-- InputError (ValueError)            a parameter or an input dataset is unusable
    |   +-- DataFileError                  a label/header whose data file is missing or the
    |   |                                  wrong size (ENVI, ISIS3, PDS3, PDS4, raw VRT)
    |   +-- ModelIntegrityError            a model's weights file is missing or its sha256
    |   |                                  differs from the manifest (corrupt or edited)
    |   +-- WrongTypeError                 a configuration value of the wrong type (training
    |                                      YAML, ``--set``)
    +-- RasterIOError (OSError)            a file could not be read or written
    +-- ModelNotFoundError (KeyError)      a model id is not in the manifest
    +-- MissingDependencyError (ImportError)  an optional package (torch, arosics...) is missing
    +-- CancelledError                     the user cancelled; nothing was written
    +-- InstallError                       the one-click package install did not happen
        +-- InterpreterNotFoundError       QGIS's Python was not found next to QGIS
        +-- PipMissingError                QGIS's Python has no pip
        +-- NoNetworkError                 pip could not reach the package index
        +-- DiskFullError                  not enough free space for the packages
"""

from __future__ import annotations


class MarsspecError(Exception):
    """Root of every error marsspec raises on purpose."""


class InputError(MarsspecError, ValueError):
    """A parameter or an input dataset is unusable (wrong band, no CRS, bad size...)."""


class DataFileError(InputError):
    """A label or header whose data file is missing, or holds more or less than it describes."""


class ModelIntegrityError(InputError):
    """A model's weights file is missing or its sha256 differs from the manifest."""


class WrongTypeError(InputError):
    """A configuration value of the wrong type; ``label`` names the key it was given for.

    A value checked against a union type tries the union's next member on this error (and
    only on this one), so the message a user reads names the whole union.
    """

    def __init__(self, message: str, label: str = "") -> None:
        super().__init__(message)
        self.label = label


class RasterIOError(MarsspecError, OSError):
    """A file could not be read or written."""


class ModelNotFoundError(MarsspecError, KeyError):
    """A model id is not in the manifest (a missing or corrupt weights file is a
    :class:`ModelIntegrityError`)."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(MarsspecError, ImportError):
    """An optional Python package (torch, arosics...) is not installed in this Python."""


class CancelledError(MarsspecError):
    """The user cancelled; nothing was written at the output path."""


# -- why a one-click install of the Python packages did not happen (core/installer) ----------
class InstallError(MarsspecError):
    """The packages were not installed; nothing half-installed is left to be used."""


class InterpreterNotFoundError(InstallError):
    """QGIS's Python executable could not be found next to QGIS."""


class PipMissingError(InstallError):
    """QGIS's Python has no pip."""


class NoNetworkError(InstallError):
    """pip could not reach the package index."""


class DiskFullError(InstallError):
    """Not enough free space for the packages."""


def user_message(
    error: BaseException, log_path: str | None = None, hint: str = "rerun with --debug"
) -> str:
    """The one line a user reads for any failure (both adapters print exactly this).

    marsspec's own errors already name the problem and the fix; the builtins that can reach
    an adapter from a file or memory boundary get one; anything else is named as a bug, with
    the log file holding its traceback.
    """
    if isinstance(error, MarsspecError):
        return str(error)
    if isinstance(error, MemoryError):
        return (
            "out of memory; use a smaller batch size or patch size, or a machine with more memory"
        )
    if isinstance(error, OSError):
        where = f" {error.filename!r}" if getattr(error, "filename", None) else ""
        reason = error.strerror or str(error)
        return f"{reason}{where}; check the path, its permissions and the free disk space"
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    log = f"; the traceback is in {log_path}" if log_path else ""
    return f"unexpected failure ({text}){log}. Please report it ({hint})."
