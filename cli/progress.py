"""Progress and messages of a long job on stderr, fed by the job's plain callables.

A CTX strip on a CPU runs for many minutes; without feedback a user cannot tell a slow run
from a hung one. On a terminal one line is redrawn (percentage, bar, elapsed, rate, ETA); in a
log, a CI job or a pipe a short plain line is printed every 10 %, so output stays line-based
(at most 11 lines for a whole run) and readable by tests. ``--quiet`` turns both off; errors
are printed by cli/main.py whatever happens here, always on a line of their own.

    console = Console("predict", quiet=args.quiet)
    result = run(request, progress=console.progress, log=console.warn)
    console.close()  # shows 100 %; on a failure cli/main.py ends the line (end_open_line)

(``with Console(...) as console:`` does the same and also ends the line on a failure.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

BAR_WIDTH = 24
STEP = 0.1  # plain mode: one line per 10 %
REDRAW_SECONDS = 0.1  # terminal mode: redraw at most this often (except at 100 %)

# the bar whose line is open (drawn without a newline), so any other line can end it first
_open_line: ProgressBar | None = None


def end_open_line() -> None:
    """End a half-drawn progress line, so the next line (an error) starts on its own."""
    if _open_line is not None:
        _open_line.break_line()


def clock(seconds: float) -> str:
    """``H:MM:SS``, the way a user reads a duration at a glance."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def rate_text(percent_per_second: float | None) -> str:
    """The rate in %/s, or %/min when a run is slower than 1 %/s (a CTX strip on a CPU)."""
    if percent_per_second is None or percent_per_second <= 0:
        return "-- %/s"
    if percent_per_second >= 1:
        return f"{percent_per_second:.1f} %/s"
    return f"{percent_per_second * 60:.1f} %/min"


def render(
    label: str,
    fraction: float,
    elapsed: float,
    percent_per_second: float | None,
    bar_width: int | None = BAR_WIDTH,
) -> str:
    """One status line, e.g. ``predict  42% |##########              | 0:00:31 elapsed,
    1.4 %/s, ETA 0:00:41``; ``bar_width=None`` leaves the bar out (plain mode)."""
    fraction = min(max(fraction, 0.0), 1.0)
    parts = [f"{label} {int(fraction * 100):3d}%"]
    if bar_width:
        filled = int(fraction * bar_width)
        parts.append(f"|{'#' * filled}{' ' * (bar_width - filled)}|")
    parts.append(f"{clock(elapsed)} elapsed, {rate_text(percent_per_second)},")
    if fraction >= 1:
        parts.append("done")
    elif percent_per_second:
        parts.append(f"ETA {clock((1 - fraction) * 100 / percent_per_second)}")
    else:
        parts.append("ETA --:--:--")
    return " ".join(parts)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class ProgressBar:
    """The ``progress(fraction)`` callable of a job; see the module docstring.

    The rate is measured from the first report, so loading a model or reading statistics
    before the first patch does not make the ETA wrong for the rest of the run.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        terminal: bool | None = None,
        enabled: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = _is_terminal(self.stream) if terminal is None else terminal
        self.enabled = enabled
        self.now = now
        self.start = now()
        self.first: tuple[float, float] | None = None  # (time, fraction) of the first report
        self.fraction = 0.0
        self.last_step = -1  # plain mode: the last 10 % step printed
        self.last_draw = -float("inf")
        self.width = 0  # terminal mode: characters of the line on screen (0: none open)

    # ---- the job's callable -----------------------------------------------------------------
    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        t = self.now()
        if self.first is None:
            self.first = (t, fraction)
        self.fraction = fraction
        if self.terminal:
            if fraction >= 1 or t - self.last_draw >= REDRAW_SECONDS:
                self._draw(t)
                if fraction >= 1:
                    self.break_line()
        else:
            step = int(fraction / STEP + 1e-9)
            if step > self.last_step:
                self.last_step = step
                self.write_line(self.line(t, bar=False))

    def rate(self, t: float) -> float | None:
        """Percent per second since the first report (at the first report: since the start);
        None until there is a measure."""
        if self.first is None:
            return None
        t0, f0 = self.first
        if t <= t0 or self.fraction <= f0:
            t0, f0 = self.start, 0.0
        if t <= t0 or self.fraction <= f0:
            return None
        return 100 * (self.fraction - f0) / (t - t0)

    def line(self, t: float, *, bar: bool = True) -> str:
        return render(
            self.label, self.fraction, t - self.start, self.rate(t), BAR_WIDTH if bar else None
        )

    # ---- ending the line --------------------------------------------------------------------
    def close(self, success: bool = True) -> None:
        """Finish: on success show 100 % (a job may stop reporting just short of it), on
        failure leave the last state; either way the line is ended for what follows."""
        if self.enabled and success and self.first is not None and self.fraction < 1:
            self(1.0)
        self.break_line()

    def break_line(self) -> None:
        """End the drawn line (terminal mode) so the next text starts on a new line."""
        global _open_line
        if self.width:
            self._write("\n")
            self.width = 0
        if _open_line is self:
            _open_line = None

    def clear(self) -> None:
        """Blank the drawn line to print a message in its place; the next report redraws."""
        global _open_line
        if self.width:
            self._write("\r" + " " * self.width + "\r")
            self.width = 0
            self.last_draw = -float("inf")
        if _open_line is self:
            _open_line = None

    # ---- output -----------------------------------------------------------------------------
    def _draw(self, t: float) -> None:
        global _open_line
        columns = shutil.get_terminal_size((80, 24)).columns
        text = self.line(t)[: max(columns - 1, 10)]
        self._write("\r" + text + " " * max(self.width - len(text), 0))
        self.width = len(text)
        self.last_draw = t
        _open_line = self

    def write_line(self, text: str) -> None:
        """A whole line (plain progress, a message), after clearing a drawn bar."""
        self.clear()
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not fail the job
            pass


class Console:
    """What a command shows while its job runs: the progress bar, informational lines
    (hidden by ``--quiet``) and warnings (always). Messages never break the bar: on a terminal
    the bar's line is cleared first and redrawn at the next report."""

    def __init__(
        self,
        label: str,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        terminal: bool | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.bar = ProgressBar(label, stream=stream, terminal=terminal, enabled=not quiet, now=now)

    def progress(self, fraction: float) -> None:
        self.bar(fraction)

    def info(self, text: object) -> None:
        """A line the user may like to see (a stage, a choice made); hidden by --quiet."""
        if not self.quiet:
            self._say(str(text))

    def warn(self, text: object) -> None:
        """A warning about the result (nodata counted, a fall-back): shown even with --quiet."""
        self._say(f"warning: {text}")

    def _say(self, text: str) -> None:
        self.bar.write_line(text)

    def close(self, success: bool = True) -> None:
        self.bar.close(success)

    def __enter__(self) -> Console:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(success=kind is None)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """The one ``--quiet`` every long-running command has."""
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or informational lines"
    )
