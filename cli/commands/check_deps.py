"""`marsspec check-deps`: which optional packages this Python lacks, and how to install them."""

from __future__ import annotations

import argparse

from marsspec.core.dependencies import ALL_OPTIONAL, install_command, missing_requirements


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    missing = missing_requirements([requirement.module for requirement in ALL_OPTIONAL])
    if not missing:
        print("All optional packages are installed.")
        return 0
    print("Missing: " + ", ".join(requirement.spec for requirement in missing))
    print("Install with: " + install_command(missing))
    return 1
