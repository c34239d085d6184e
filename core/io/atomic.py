"""Write a file under a temporary name and rename it into place only on success.

A cancelled or failed run must never leave a half-written raster where the user expects a
result (QGIS would load it as if it were good). Every writer in marsspec therefore writes to
``.<stem>.marsspec-tmp-<token><suffix>`` in the *same folder* (so the final ``os.replace`` is
atomic on one filesystem) and renames it, with any sidecars GDAL made next to it
(``.aux.xml``, ENVI ``.hdr``, ``.ovr``), only when the block exits without an exception.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from marsspec.core.errors import InputError, RasterIOError

_TMP_TAG = ".marsspec-tmp-"


def temporary_sibling(path: str | os.PathLike[str]) -> Path:
    """A unique, hidden name next to ``path`` with the same suffix (drivers read suffixes)."""
    final = Path(path)
    token = secrets.token_hex(6)
    return final.with_name(f".{final.stem}{_TMP_TAG}{token}{final.suffix}")


def _family(temp: Path) -> list[Path]:
    """The temporary file and every sidecar that shares its unique stem."""
    # A prefix test, not a glob: user file names may contain glob characters such as "[".
    return sorted(p for p in temp.parent.iterdir() if p.name.startswith(temp.stem))


def _final_name(member: Path, temp: Path, final: Path) -> Path:
    # ".x.marsspec-tmp-ab12.tif.aux.xml" -> "x.tif.aux.xml"; ".x.marsspec-tmp-ab12.hdr" -> "x.hdr"
    return final.with_name(final.stem + member.name[len(temp.stem) :])


def discard(temp: Path) -> None:
    """Remove a temporary file and its sidecars; never raises (it runs while handling errors)."""
    for member in _family(temp):
        with contextlib.suppress(OSError):
            member.unlink()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it (and sidecars) to ``path``.

    On any exception, including :class:`~marsspec.core.errors.CancelledError`, the temporary
    files are deleted and nothing appears at ``path`` (an older file there is left untouched).
    """
    final = Path(path)
    if not final.parent.is_dir():
        raise InputError(
            f"Output folder {str(final.parent)!r} does not exist; create it or choose another "
            "output path."
        )
    if final.exists() and not overwrite:
        raise InputError(f"Output {str(final)!r} exists; delete it or choose another name.")
    temp = temporary_sibling(final)
    try:
        yield temp
    except BaseException:
        discard(temp)
        raise
    members = _family(temp)
    if temp not in members:
        raise RasterIOError(
            f"The writer produced no file at {str(temp)!r}; check the disk space and the "
            f"permissions of {str(final.parent)!r}."
        )
    try:
        for member in members:
            os.replace(member, _final_name(member, temp, final))
    except OSError as exc:
        discard(temp)
        raise RasterIOError(
            f"Could not move the finished output to {str(final)!r} ({exc}); check the "
            "folder's permissions."
        ) from exc
