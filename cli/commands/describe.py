"""`marsspec describe RASTER`: what marsspec:describe reports, on the command line."""

from __future__ import annotations

import argparse
import json

from marsspec.core.io.describe import describe_raster


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raster", help="any GDAL-readable raster or planetary product")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    description = describe_raster(args.raster)
    if args.json:
        print(json.dumps(description.to_dict(), indent=2, default=str))
    else:
        print(description.format_text())
    return 0
