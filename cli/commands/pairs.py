"""`marsspec pairs --ctx CTX --crism CRISM --out DIR`: one training scene from your products.

Co-registers the CRISM product onto the CTX image (the `coregister` algorithm) and writes
``DIR/<name>/ctx.tif`` + ``crism_target.tif`` (nodata outside the CRISM footprint, band
names, wavelengths and units kept) + ``pair.json`` (what was done): the layout `marsspec
train` reads (``scenes: [DIR/*]``). Run it once per CTX/CRISM pair.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marsspec.cli.arguments import add_coreg_arguments, coreg_config
from marsspec.cli.progress import Console, add_quiet


def _band_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ctx", type=Path, required=True, help="CTX raster (map-projected)")
    parser.add_argument(
        "--crism", type=Path, required=True, help="CRISM product (map-projected; MTRDR/TRDR...)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="training data folder; the pair goes in OUT/NAME/"
    )
    parser.add_argument("--name", help="scene folder name (default: the CRISM file's stem)")
    parser.add_argument(
        "--bands",
        nargs="+",
        type=_band_list,
        default=[],
        metavar="BAND",
        help="CRISM bands to keep as targets: wavelengths in nm (2529), band numbers (b3) or "
        "names (R2529), space- or comma-separated (default: every band)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=15.0,
        help="largest distance, nm, between a wavelength in --bands and its band (15)",
    )
    parser.add_argument(
        "--replace", action="store_true", help="overwrite the scene if it already holds a pair"
    )
    add_coreg_arguments(parser, ctx_band_help="CTX band to match and to write as ctx.tif (1)")
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from marsspec.core.coreg.pairs import PairsRequest
    from marsspec.core.jobs import run as run_job

    request = PairsRequest(
        ctx=args.ctx,
        crism=args.crism,
        out=args.out,
        name=args.name,
        bands=tuple(item for group in args.bands for item in group),
        tolerance_nm=args.tolerance,
        replace=args.replace,
        config=coreg_config(args),
    )
    console = Console("pairs", quiet=args.quiet)
    result = run_job(request, progress=console.progress, log=console.info)
    console.close()
    for key, value in result.summary().items():
        print(f"{key}={value}")
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    return 0
