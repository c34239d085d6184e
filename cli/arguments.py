"""Argument groups more than one command takes, declared once with the request fields they
fill: how to read the input (body, scale, assumed CRS) and the co-registration settings."""

from __future__ import annotations

import argparse

from marsspec.core import options
from marsspec.core.coreg.config import CoregConfig


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """--allow-non-mars, --no-rescale, --assume-crs/--pixel-size (predict, confidence, superres)."""
    add_allow_non_mars(parser)
    parser.add_argument(
        "--no-rescale",
        action="store_true",
        help="refuse an input whose pixel size is more than 25 %% off the model's "
        "(default: resample it to the model's scale on the fly, output on the input's grid)",
    )
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


def input_kwargs(args: argparse.Namespace) -> dict:
    """The request fields of :func:`add_input_arguments`."""
    return {
        "allow_non_mars": args.allow_non_mars,
        "rescale": not args.no_rescale,
        "assume_crs": args.assume_crs,
        "pixel_size": args.pixel_size,
    }


def add_allow_non_mars(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-non-mars",
        action="store_true",
        help="run on an input whose CRS is on another body (refused by default)",
    )


def add_coreg_arguments(parser: argparse.ArgumentParser, ctx_band_help: str = "CTX band (1)"):
    """The co-registration settings (coregister, pairs), defaults from :class:`CoregConfig`."""
    d = CoregConfig()
    parser.add_argument(
        "--crism-band", type=int, help="CRISM band to match (default: nearest 592 nm)"
    )
    parser.add_argument("--ctx-band", type=int, default=d.reference_band, help=ctx_band_help)
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
    add_allow_non_mars(parser)


def coreg_config(args: argparse.Namespace) -> CoregConfig:
    """The :class:`CoregConfig` of :func:`add_coreg_arguments`."""
    return CoregConfig(
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
