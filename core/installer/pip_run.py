"""Run pip as a child process: every line to the log, a rough progress, cancel that kills it,
and a failure turned into the one error a user can act on (no pip, no network, disk full).

pip prints no machine-readable progress; "Collecting" lines (one per package resolved) and
"Installing collected packages" (the last step) are enough to move a bar honestly.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from marsspec.core.errors import (
    CancelledError,
    DiskFullError,
    InstallError,
    NoNetworkError,
    PipMissingError,
)

NETWORK_SIGNS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "nodename nor servname provided",
    "getaddrinfo failed",
    "Connection refused",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Could not fetch URL",
    "SSLError",
)
DISK_SIGNS = ("No space left on device", "[Errno 28]", "There is not enough space on the disk")
PIP_MISSING_SIGNS = ("No module named pip", "No module named 'pip'")


@dataclass
class PipResult:
    returncode: int
    output: str


def classify_failure(output: str, python: str, index_down: bool = False) -> InstallError:
    """The error for a failed pip run, judged from what pip printed. pip at its default
    verbosity prints nothing about a refused or unresolvable index, only "from versions:
    none"; ``index_down`` (:func:`index_reachable` said no) tells that case apart."""
    if any(sign in output for sign in PIP_MISSING_SIGNS):
        return PipMissingError(
            f"QGIS's Python ({python}) has no pip. Linux: install your distribution's pip for "
            "it (Debian/Ubuntu: sudo apt install python3-pip); Windows: add python3-pip with "
            "the OSGeo4W installer; macOS: run that Python with -m ensurepip. Then retry."
        )
    if any(sign in output for sign in DISK_SIGNS):
        return DiskFullError(
            "The disk is full: pip ran out of space while installing. Free some space (torch "
            "needs 2 GB for the CPU build, 8 GB for CUDA) and retry; nothing was installed."
        )
    nothing_found = "from versions: none" in output or "No matching distribution" in output
    if any(sign in output for sign in NETWORK_SIGNS) or (index_down and nothing_found):
        return NoNetworkError(
            "pip could not reach the package index (no network, or a proxy/firewall in the "
            "way). Check the connection (a proxy: set HTTPS_PROXY before starting QGIS) and "
            "retry; nothing was installed."
        )
    last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    return InstallError(
        f"pip failed ({last.strip() or 'no output'}); see the install log. Nothing was installed."
    )


def index_reachable(url: str, timeout_s: float = 5.0) -> bool:
    """Whether a TCP connection to the index's host opens (no HTTP request is made)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return True  # a local folder or file index: nothing to reach
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def progress_from_line(line: str, fraction: float) -> float:
    """Move the progress on for one line of pip output (never backwards, below 1)."""
    if line.startswith("Collecting "):
        return fraction + (0.8 - fraction) * 0.15
    if line.startswith("Installing collected packages"):
        return max(fraction, 0.9)
    return fraction


def run_pip(
    command: Sequence[str],
    *,
    log: Callable[[str], None],
    progress: Callable[[float], None] = lambda fraction: None,
    cancel: Callable[[], bool] = lambda: False,
    started: Callable[[subprocess.Popen], None] = lambda process: None,
    poll_s: float = 0.1,
    env: dict[str, str] | None = None,
) -> PipResult:
    """Run ``command``, streaming its output to ``log``; a cancel kills it and raises
    :class:`CancelledError`. ``started`` sees the process once it runs."""
    environment = dict(os.environ if env is None else env)
    environment.setdefault("PYTHONIOENCODING", "utf-8")
    environment["PIP_NO_INPUT"] = "1"
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=environment,
    )
    lines: list[str] = []
    fraction = [0.0]

    def reader() -> None:
        for raw in process.stdout or ():
            line = raw.rstrip("\n")
            lines.append(line)
            log(line)
            updated = progress_from_line(line, fraction[0])
            if updated != fraction[0]:
                fraction[0] = updated
                progress(updated)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    started(process)
    try:
        while process.poll() is None:
            if cancel():
                stop(process)
                thread.join(timeout=5)
                raise CancelledError("The install was cancelled; nothing was installed.")
            thread.join(timeout=poll_s)
    finally:
        if process.poll() is None:  # an exception in a callback: never leave pip running
            stop(process)
    thread.join(timeout=5)
    return PipResult(process.returncode, "\n".join(lines))


def stop(process: subprocess.Popen, grace_s: float = 3.0) -> None:
    """Terminate pip, and kill it if it does not stop within ``grace_s``."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pip_available(python: str, log: Callable[[str], None]) -> None:
    """Raise :class:`PipMissingError` unless ``python -m pip --version`` works."""
    try:
        completed = subprocess.run(
            [python, "-m", "pip", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"QGIS's Python ({python}) could not be run: {exc}.") from exc
    output = (completed.stdout + completed.stderr).strip()
    log(output)
    if completed.returncode != 0:
        raise classify_failure(output or "No module named pip", python)
    if not re.match(r"pip \d", completed.stdout):
        raise classify_failure("No module named pip", python)
