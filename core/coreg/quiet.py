"""Run arosics without its prints: stdout/stderr and warnings go to marsspec's log callable.

arosics prints progress bars and notes even with ``q=True``; in QGIS they would flood the
log (and a CLI user wants key lines, not bars). Progress-bar lines are dropped; the rest is
forwarded once per distinct line, after arosics returns (the log callable may itself print
to the redirected streams).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator


class _LineForwarder(io.TextIOBase):
    def __init__(self) -> None:
        self._buffer = ""
        self.lines: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text.replace("\r", "\n")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush_rest(self) -> None:
        self._emit(self._buffer)
        self._buffer = ""

    def _emit(self, line: str) -> None:
        line = line.strip()
        if not line or "progress" in line.lower() or "|===" in line or "|---" in line:
            return
        if line not in self.lines:
            self.lines.append(line)


@contextlib.contextmanager
def quiet_arosics(log: Callable[[str], None]) -> Iterator[None]:
    forwarder = _LineForwarder()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(forwarder),
        contextlib.redirect_stderr(forwarder),
    ):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            forwarder.flush_rest()
    for line in forwarder.lines:
        log(f"arosics: {line}")
    for message in {str(w.message) for w in caught}:
        log(f"arosics warning: {message.strip()}")
