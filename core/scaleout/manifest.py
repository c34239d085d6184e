"""The record of finished blocks next to the output, so that re-running a command resumes.

``<output>.blocks/manifest.jsonl``: a header line with the run's fingerprint (request, layout,
input size and time), then one line per finished block, appended and fsynced by the driver
when the block's files are in place. Append-only keeps the cost per block constant however
many blocks a mosaic has; a line cut short by a crash is ignored. A header that does not match
(other parameters, a changed input) means nothing is reused: the manifest starts afresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from marsspec.core.io.safety import atomic_output

NAME = "manifest.jsonl"


class Manifest:
    """Finished blocks of one product (all its outputs share it)."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.path = folder / NAME
        self.fingerprint = fingerprint
        self.done: set[str] = set()

    def open(self, block_files: Iterable[tuple[str, list[Path]]]) -> set[str]:
        """Blocks finished by an earlier run of the same job whose files all exist; starts a
        fresh manifest when there is none or it belongs to another job."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        recorded = self._read()
        if recorded is None:
            with atomic_output(self.path) as temp:
                temp.write_text(json.dumps({"fingerprint": self.fingerprint}) + "\n", "utf-8")
            recorded = set()
        self.done = {
            name
            for name, files in block_files
            if name in recorded and all(f.is_file() for f in files)
        }
        return set(self.done)

    def _read(self) -> set[str] | None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        try:
            header = json.loads(lines[0])
        except (IndexError, ValueError):
            return None
        if header.get("fingerprint") != self.fingerprint:
            return None
        names = set()
        for line in lines[1:]:
            try:
                names.add(json.loads(line)["block"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interruption
        return names

    def record(self, name: str, **info: object) -> None:
        line = json.dumps({"block": name, **info}) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.done.add(name)
