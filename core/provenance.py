"""Provenance tags written into every marsspec output, so a raster says how it was made.

Tags are plain ``KEY=value`` strings (GeoTIFF metadata, ENVI header fields...) under a
``MARSSPEC_`` prefix. No creation time is recorded: the same job must give a byte-identical
file, and the file system's mtime already says when.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from marsspec.core.version import __version__

PREFIX = "MARSSPEC_"
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (weights files, small inputs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def input_fingerprint(path: str | os.PathLike[str], *, checksum: bool = False) -> str:
    """Identify an input: file name plus size and mtime (cheap), or its sha256 if asked.

    Hashing a 5,000 x 50,000 strip costs seconds of I/O, so size+mtime is the default; a
    non-file source (``/vsicurl/...``, a VRT string) is recorded by name only.
    """
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        return f"{source.name}"
    if checksum:
        return f"{source.name} sha256={sha256_file(source)}"
    mtime = _dt.datetime.fromtimestamp(stat.st_mtime, tz=_dt.UTC).isoformat(timespec="seconds")
    return f"{source.name} size={stat.st_size} mtime={mtime}"


def provenance_tags(
    *,
    algorithm: str,
    inputs: Iterable[str | os.PathLike[str]] = (),
    model_id: str | None = None,
    weights_sha256: str | None = None,
    parameters: Mapping[str, object] | None = None,
    checksum_inputs: bool = False,
) -> dict[str, str]:
    """The tag dictionary: version, algorithm, model, inputs, then one tag per parameter."""
    tags = {f"{PREFIX}VERSION": __version__, f"{PREFIX}ALGORITHM": algorithm}
    if model_id:
        tags[f"{PREFIX}MODEL_ID"] = model_id
    if weights_sha256:
        tags[f"{PREFIX}WEIGHTS_SHA256"] = weights_sha256
    for number, path in enumerate(inputs, start=1):
        suffix = "" if number == 1 else f"_{number}"
        tags[f"{PREFIX}INPUT{suffix}"] = input_fingerprint(path, checksum=checksum_inputs)
    for key, value in (parameters or {}).items():
        tags[f"{PREFIX}{key.upper()}"] = str(value)
    return tags
