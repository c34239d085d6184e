"""`python -m marsspec` / `marsspec`: the command-line interface.

Each subcommand lives in its own module that provides ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so ``--help`` is fast
and a command whose optional packages are missing fails alone, with an install hint.
The parameters mirror the Processing algorithms' so a CLI run and a QGIS run are the same job.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from marsspec.core.errors import MarsspecError
from marsspec.core.version import __version__

# name -> (module, one-line help). Keep in the order a user meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "describe": ("marsspec.core.commands.describe", "report a raster's size, CRS, bands, nodata"),
    "check-deps": ("marsspec.core.commands.check_deps", "list missing packages, install command"),
    "simulate": (
        "marsspec.core.commands.simulate",
        "simulate a Mars scene (CTX, CRISM, CaSSIS...)",
    ),
    "coregister": (
        "marsspec.core.commands.coregister",
        "co-register a CRISM product to a CTX image (arosics)",
    ),
    "eval": ("marsspec.core.commands.eval", "evaluate models / co-registration (key=value)"),
    "predict": ("marsspec.core.commands.predict", "predict CRISM EVC/FC bands from a CTX raster"),
    "confidence": ("marsspec.core.commands.confidence", "per-pixel confidence of a bin model"),
    "train": ("marsspec.core.commands.train", "train a model from a YAML config"),
    "export": ("marsspec.core.commands.export", "export a checkpoint to models/ + manifest"),
    "superres": ("marsspec.core.commands.superres", "super-resolve a raster 4x (MARSGAN)"),
}


def _prepare_environment() -> None:
    """Settings a venv needs that nobody should have to export by hand (ENVIRONMENT.md)."""
    if os.path.isdir("/usr/share/proj"):
        os.environ.setdefault("PROJ_DATA", "/usr/share/proj")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marsspec",
        description="Deep-learning tools for Mars orbital imagery (CTX, CRISM, CaSSIS, HiRISE).",
    )
    parser.add_argument("--version", action="version", version=f"marsspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, summary) in COMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _prepare_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # handles --help/--version and unknown commands
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    command_parser = argparse.ArgumentParser(prog=f"marsspec {name}", description=COMMANDS[name][1])
    module.add_arguments(command_parser)
    args = command_parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except MarsspecError as error:
        print(f"marsspec {name}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"marsspec {name}: interrupted; no output was left behind", file=sys.stderr)
        return 130
