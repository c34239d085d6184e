"""`marsspec coregister CTX CRISM ...`: co-register a CRISM product to a CTX image (arosics).

Same parameters as the Processing algorithm marsspec:coregistercrism.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marsspec.cli.arguments import add_coreg_arguments, coreg_config
from marsspec.cli.progress import Console, add_quiet
from marsspec.cli.scaled import add_dask_arguments, run_pairs
from marsspec.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reference", type=Path, nargs="?", help="CTX (reference) raster, map-projected"
    )
    parser.add_argument(
        "target", type=Path, nargs="?", help="CRISM (target) product, map-projected"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="co-registered CRISM GeoTIFF (with --pairs: a folder)",
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        help="a text file of CTX CRISM pairs, one pair a line: each pair is one task on --dask",
    )
    parser.add_argument(
        "--out-ctx", type=Path, help="CTX cut-out GeoTIFF (default: OUT stem + _ctx.tif)"
    )
    parser.add_argument(
        "--out-points", type=Path, help="tie points GeoPackage (default: OUT stem + _points.gpkg)"
    )
    add_coreg_arguments(parser)
    add_dask_arguments(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from marsspec.core.coreg import CoregRequest
    from marsspec.core.jobs import run as run_job

    if args.pairs or args.dask:
        return run_pairs("coregister", args, coreg_config(args))
    if args.reference is None or args.target is None:
        raise InputError("Give the CTX reference and the CRISM target (or --pairs with --dask).")
    out = args.out
    out_ctx = args.out_ctx or out.with_name(f"{out.stem}_ctx.tif")
    out_points = args.out_points or out.with_name(f"{out.stem}_points.gpkg")
    config = coreg_config(args)

    request = CoregRequest(args.reference, args.target, out, out_ctx, out_points, config)
    console = Console("coregister", quiet=args.quiet)
    result = run_job(request, progress=console.progress, log=console.info)
    console.close()
    for key, value in result.summary().items():
        print(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}")
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    return 0
