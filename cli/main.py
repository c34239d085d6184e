"""`python -m marsspec` / `marsspec`: the command-line interface.

Each subcommand lives in its own module that provides ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so ``--help`` is fast
and a command whose optional packages are missing fails alone, with an install hint.
The parameters mirror the Processing algorithms' so a CLI run and a QGIS run are the same job.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import importlib.util
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from marsspec.cli.progress import end_open_line
from marsspec.core.errors import MissingDependencyError, user_message
from marsspec.core.version import __version__

# name -> (module, one-line help). Keep in the order a user meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "describe": ("marsspec.cli.commands.describe", "report a raster's size, CRS, bands, nodata"),
    "check-deps": ("marsspec.cli.commands.check_deps", "list missing packages, install command"),
    "simulate": (
        "marsspec.cli.commands.simulate",
        "simulate a Mars scene (CTX, CRISM, CaSSIS...)",
    ),
    "coregister": (
        "marsspec.cli.commands.coregister",
        "co-register a CRISM product to a CTX image (arosics)",
    ),
    "pairs": (
        "marsspec.cli.commands.pairs",
        "make a training pair (ctx.tif + crism_target.tif) from your CTX and CRISM",
    ),
    "eval": ("marsspec.cli.commands.eval", "evaluate models / co-registration (key=value)"),
    "predict": ("marsspec.cli.commands.predict", "predict CRISM EVC/FC bands from a CTX raster"),
    "confidence": ("marsspec.cli.commands.confidence", "per-pixel confidence of a bin model"),
    "train": ("marsspec.cli.commands.train", "train a model from a YAML config"),
    "export": (
        "marsspec.cli.commands.export",
        "export a checkpoint to your models folder (weights, card, manifest)",
    ),
    "superres": ("marsspec.cli.commands.superres", "super-resolve a raster 4x (MARSGAN)"),
    "georef": (
        "marsspec.cli.commands.georef",
        "give a raster without a CRS a Mars one (tiled GeoTIFF)",
    ),
}

# Commands that need marsspec.training, which the plugin zip leaves out (scripts/package.py):
# name -> whether this argument list needs it (`eval coreg` runs on core alone).
NEEDS_TRAINING: dict[str, Callable[[list[str]], bool]] = {
    "train": lambda rest: True,
    "export": lambda rest: True,
    "eval": lambda rest: (rest[0] if rest else "spectra") != "coreg",
}


def _prepare_environment() -> None:
    """Settings a venv needs that nobody should have to export by hand (ENVIRONMENT.md)."""
    if os.path.isdir("/usr/share/proj"):
        os.environ.setdefault("PROJ_DATA", "/usr/share/proj")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (the usage itself is under --help)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so every output set removes its temporary files."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="marsspec",
        description="Deep-learning tools for Mars orbital imagery (CTX, CRISM, CaSSIS, HiRISE).",
    )
    parser.add_argument("--version", action="version", version=f"marsspec {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the Python traceback of a failure"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, summary) in COMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _prepare_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # handles --help/--version and unknown commands
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    if name in NEEDS_TRAINING and NEEDS_TRAINING[name](rest) and not _has_training():
        return _report(name, MissingDependencyError(_source_checkout_hint(name)), debug)
    module = importlib.import_module(COMMANDS[name][0])
    command_parser = _Parser(prog=f"marsspec {name}", description=COMMANDS[name][1])
    module.add_arguments(command_parser)
    args = command_parser.parse_args(rest)
    _quiet_library_logs(debug)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(module.run(args) or 0)
    except Terminated:
        end_open_line()
        print(f"marsspec {name}: terminated; no output was left behind", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        end_open_line()
        print(f"marsspec {name}: interrupted; no output was left behind", file=sys.stderr)
        return 130
    except BaseException as error:  # the one place every failure ends up
        if isinstance(error, SystemExit):
            raise
        return _report(name, error, debug)


def _quiet_library_logs(debug: bool) -> None:
    """The commands print what users need (warnings through the jobs' callables); without
    a handler, Python's last-resort one would print every logged warning a second time."""
    library = logging.getLogger("marsspec")
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    elif not library.handlers:
        library.addHandler(logging.NullHandler())  # counts as a handler: no last resort


def _has_training() -> bool:
    try:
        return importlib.util.find_spec("marsspec.training") is not None
    except (ImportError, ValueError):
        return False


def _source_checkout_hint(name: str) -> str:
    """Why an installed plugin cannot train, evaluate or export, and where to do it instead."""
    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read(Path(__file__).resolve().parent.parent / "metadata.txt", encoding="utf-8")
    repository = metadata.get("general", "repository", fallback="the marsspec repository")
    return (
        "this command needs marsspec's training package (training/), which the QGIS plugin "
        f"zip does not ship; run it from a source checkout: git clone {repository} marsspec "
        f"&& cd marsspec && make setup && .venv/bin/marsspec {name} ..."
    )


def _report(name: str, error: BaseException, debug: bool) -> int:
    """One line on stderr for any failure; the traceback only with --debug (and in a log)."""
    end_open_line()  # a half-drawn progress bar must not swallow the start of the error
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    line = user_message(error, _log_traceback(error))
    print(f"marsspec {name}: error: {line}", file=sys.stderr)
    return 1


def _log_traceback(error: BaseException) -> str | None:
    """Keep the traceback in a log file the message names; never fails the report."""
    try:
        path = os.path.join(tempfile.gettempdir(), "marsspec-last-error.log")
        with open(path, "w", encoding="utf-8") as handle:
            traceback.print_exception(error, file=handle)
        return path
    except OSError:
        return None
