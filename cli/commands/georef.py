"""`marsspec georef IN OUT --body mars --pixel-size M [--centre LON LAT]`: give a raster
without a CRS (a PNG/JPEG, a CaSSIS framelet) a Mars equirectangular one, as a tiled GeoTIFF.
"""

from __future__ import annotations

import argparse

from marsspec.cli.progress import Console, add_quiet


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
