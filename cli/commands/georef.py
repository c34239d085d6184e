"""`marsspec georef IN OUT --body mars --pixel-size M [--centre LON LAT]`: give a raster
without a CRS (a PNG/JPEG, a CaSSIS framelet) a Mars equirectangular one, as a tiled GeoTIFF.

Also holds ``--assume-crs``/``--pixel-size`` of the jobs (predict, confidence, superres).
"""

from __future__ import annotations

import argparse

from marsspec.cli.progress import Console, add_quiet
from marsspec.core import options


def add_assume_arguments(parser: argparse.ArgumentParser) -> None:
    """``--assume-crs mars --pixel-size M``: what to assume for an input without a CRS."""
    parser.add_argument(
        "--assume-crs",
        choices=options.ASSUME_CRS,
        default=None,
        help="an input without a CRS (PNG/JPEG, CaSSIS framelet) is refused; 'mars' reads it "
        "as Mars equirectangular (north up, origin 0,0) with --pixel-size; the outputs' tags "
        "say so",
    )
    parser.add_argument(
        "--pixel-size",
        type=float,
        default=None,
        metavar="M",
        help="metres per pixel of an input without a CRS (with --assume-crs mars)",
    )


def assume_kwargs(args: argparse.Namespace) -> dict:
    """The request fields of :func:`add_assume_arguments`."""
    return {"assume_crs": args.assume_crs, "pixel_size": args.pixel_size}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="raster (anything marsspec describe reads)")
    parser.add_argument("output", help="output GeoTIFF (tiled, same dtype, nodata and bands)")
    parser.add_argument("--body", default="mars", choices=("mars",), help="planetary body")
    parser.add_argument(
        "--pixel-size", type=float, required=True, metavar="M", help="metres per pixel"
    )
    parser.add_argument(
        "--centre",
        "--center",
        type=float,
        nargs=2,
        metavar=("LON", "LAT"),
        default=None,
        help="image centre in degrees (planetocentric, east); default: upper-left at 0,0",
    )
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from marsspec.core.io.georef import GeorefRequest
    from marsspec.core.jobs import run as run_job

    request = GeorefRequest(
        args.input,
        args.output,
        pixel_size=args.pixel_size,
        body=args.body,
        centre=tuple(args.centre) if args.centre else None,
    )
    console = Console("georef", quiet=args.quiet)
    result = run_job(request, progress=console.progress, log=console.warn)
    console.close()
    print(f"output={result.outputs['OUTPUT']}")
    print(f"size={result.width}x{result.height} pixel_size_m={args.pixel_size:g} crs={result.crs}")
    return 0
