"""`marsspec coregister CTX CRISM ...`: co-register a CRISM product to a CTX image (arosics).

Same parameters as the Processing algorithm marsspec:coregistercrism.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marsspec.cli.progress import Console, add_quiet
from marsspec.core.coreg.config import CoregConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = CoregConfig()
    parser.add_argument("reference", type=Path, help="CTX (reference) raster, map-projected")
    parser.add_argument("target", type=Path, help="CRISM (target) product, map-projected")
    parser.add_argument("--out", type=Path, required=True, help="co-registered CRISM GeoTIFF")
    parser.add_argument(
        "--out-ctx", type=Path, help="CTX cut-out GeoTIFF (default: OUT stem + _ctx.tif)"
    )
    parser.add_argument(
        "--out-points", type=Path, help="tie points GeoPackage (default: OUT stem + _points.gpkg)"
    )
    parser.add_argument(
        "--crism-band", type=int, help="CRISM band to match (default: nearest 592 nm)"
    )
    parser.add_argument("--ctx-band", type=int, default=d.reference_band, help="CTX band (1)")
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
        "--min-reliability",
        type=float,
        default=d.min_reliability,
        help=f"minimum tie-point reliability, %% ({d.min_reliability:g})",
    )
    parser.add_argument(
        "--global-only", action="store_true", help="one global shift, no tie-point grid"
    )
    parser.add_argument("--cpus", type=int, default=d.cpus, help=f"arosics processes ({d.cpus})")
    parser.add_argument(
        "--oversample",
        type=int,
        default=d.oversample,
        help=f"matching grid oversampling of CRISM pixels ({d.oversample})",
    )
    add_quiet(parser)
    parser.add_argument(
        "--allow-non-mars",
        action="store_true",
        help="run on an input whose CRS is on another body (refused by default)",
    )


def run(args: argparse.Namespace) -> int:
    from marsspec.core.coreg import CoregRequest
    from marsspec.core.jobs import run as run_job

    out = args.out
    out_ctx = args.out_ctx or out.with_name(f"{out.stem}_ctx.tif")
    out_points = args.out_points or out.with_name(f"{out.stem}_points.gpkg")
    config = CoregConfig(
        crism_band=args.crism_band,
        reference_band=args.ctx_band,
        grid_spacing=args.grid_spacing,
        window_size=args.window_size,
        max_shift=args.max_shift,
        min_reliability=args.min_reliability,
        global_only=args.global_only,
        cpus=args.cpus,
        oversample=args.oversample,
        allow_non_mars=args.allow_non_mars,
    )

    request = CoregRequest(args.reference, args.target, out, out_ctx, out_points, config)
    console = Console("coregister", quiet=args.quiet)
    result = run_job(request, progress=console.progress, log=console.info)
    console.close()
    for key, value in result.summary().items():
        print(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}")
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    return 0
