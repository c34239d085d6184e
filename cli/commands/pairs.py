"""`marsspec pairs --ctx CTX --crism CRISM --out DIR`: one training scene from your products.

Co-registers the CRISM product onto the CTX image (the `coregister` algorithm) and writes
``DIR/<name>/ctx.tif`` + ``crism_target.tif`` (nodata outside the CRISM footprint, band
names, wavelengths and units kept) + ``pair.json`` (what was done): the layout `marsspec
train` reads (``scenes: [DIR/*]``). Run it once per CTX/CRISM pair.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marsspec.cli.progress import Console, add_quiet
from marsspec.core.coreg.config import CoregConfig


def _band_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = CoregConfig()
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
    parser.add_argument(
        "--crism-band", type=int, help="CRISM band to match (default: nearest 592 nm)"
    )
    parser.add_argument(
        "--ctx-band",
        type=int,
        default=d.reference_band,
        help="CTX band to match and to write as ctx.tif (1)",
    )
    parser.add_argument(
        "--grid-spacing",
        type=int,
        default=d.grid_spacing,
        help=f"tie-point spacing, CRISM px ({d.grid_spacing})",
    )
    parser.add_argument(
        "--window-size",
        type=int,
        default=d.window_size,
        help=f"matching window, CRISM px ({d.window_size})",
    )
    parser.add_argument(
        "--max-shift", type=int, default=d.max_shift, help=f"max shift, CRISM px ({d.max_shift})"
    )
    parser.add_argument(
        "--global-only", action="store_true", help="one global shift, no tie-point grid"
    )
    parser.add_argument("--cpus", type=int, default=d.cpus, help=f"arosics processes ({d.cpus})")
    add_quiet(parser)
    parser.add_argument(
        "--allow-non-mars",
        action="store_true",
        help="run on an input whose CRS is on another body (refused by default)",
    )


def run(args: argparse.Namespace) -> int:
    from marsspec.core.coreg.pairs import PairsRequest
    from marsspec.core.jobs import run as run_job

    config = CoregConfig(
        crism_band=args.crism_band,
        reference_band=args.ctx_band,
        grid_spacing=args.grid_spacing,
        window_size=args.window_size,
        max_shift=args.max_shift,
        global_only=args.global_only,
        cpus=args.cpus,
        allow_non_mars=args.allow_non_mars,
    )
    request = PairsRequest(
        ctx=args.ctx,
        crism=args.crism,
        out=args.out,
        name=args.name,
        bands=tuple(item for group in args.bands for item in group),
        tolerance_nm=args.tolerance,
        replace=args.replace,
        config=config,
    )
    console = Console("pairs", quiet=args.quiet)
    result = run_job(request, progress=console.progress, log=console.info)
    console.close()
    for key, value in result.summary().items():
        print(f"{key}={value}")
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    return 0
