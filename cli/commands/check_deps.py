"""`marsspec check-deps`: which optional packages this Python lacks, and how to install them.

Outside QGIS the command installs into the Python that runs marsspec (a virtual environment,
say); never with ``--user`` or ``--break-system-packages``. Inside QGIS use the Python packages
dialog, which installs into marsspec's own folder in the QGIS profile."""

from __future__ import annotations

import argparse

from marsspec.core.dependencies import RUNTIME, install_command, missing_requirements


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    missing = missing_requirements([requirement.module for requirement in RUNTIME])
    if not missing:
        print("All optional packages are installed.")
        return 0
    print("Missing: " + ", ".join(requirement.spec for requirement in missing))
    print("Install with: " + install_command(missing))
    return 1
