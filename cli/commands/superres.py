"""`marsspec superres INPUT OUTPUT`: super-resolve a greyscale or colour raster 4x (MARSGAN).

The same job as the Processing algorithm marsspec:superresolve, with the same parameters.
"""

from __future__ import annotations

import argparse

from marsspec.cli.arguments import add_input_arguments, input_kwargs
from marsspec.cli.progress import Console, add_quiet
from marsspec.cli.scaled import add_dask_arguments, run_batch, single_input
from marsspec.core import options
from marsspec.core.errors import InputError


def _bands(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(b) for b in text.replace(" ", "").split(",") if b)
    except ValueError as exc:
        raise InputError(f"--bands {text!r}: write band numbers like 1 or 3,2,1.") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        nargs="+",
        help="raster to super-resolve (any GDAL-readable raster); with "
        "--dask also several, a folder or a .txt list",
    )
    parser.add_argument(
        "output", help="output GeoTIFF (float32, 4x finer pixels); a folder for several"
    )
    parser.add_argument(
        "--bands", help="band numbers, e.g. 1 (greyscale) or 3,2,1 (colour); default 1 or 1,2,3"
    )
    parser.add_argument(
        "--colour-mode",
        choices=options.COLOUR_MODES,
        default=options.DEFAULT_COLOUR_MODE,
        help="colour: SR on V of HSV, hue and saturation bicubic (default, keeps colours), "
        "or every band on its own",
    )
    ids = options.model_ids("superres")
    parser.add_argument(
        "--model",
        default=options.default_model("superres", ids),
        help=f"model id ({options.models_listing('superres')}; default %(default)s)",
    )
    parser.add_argument(
        "--fidelity",
        type=float,
        default=None,
        help="0..1: blend the PSNR (1) and GAN (0) generators; default: the model alone",
    )
    parser.add_argument(
        "--device",
        default=options.DEFAULT_DEVICE,
        help=", ".join(options.DEVICES) + " or cuda:N (default %(default)s)",
    )
    parser.add_argument(
        "--precision", default=options.DEFAULT_PRECISION, choices=options.PRECISIONS
    )
    parser.add_argument("--patch", type=int, default=128, help="LR patch edge in pixels")
    parser.add_argument(
        "--blending",
        choices=options.SR_BLENDINGS,
        default=options.DEFAULT_SR_BLENDING,
        help="gaussian: overlapping patches blended in HR space; crop: tile margins discarded",
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--noise", action="store_true", help="keep the generator noise inputs on")
    parser.add_argument(
        "--manifest", help="one manifest.json instead of the bundled models and yours"
    )
    add_input_arguments(parser)
    add_dask_arguments(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from marsspec.core.jobs import run as run_job
    from marsspec.core.superres.job import SuperresConfig, SuperresRequest

    config = SuperresConfig(
        bands=_bands(args.bands),
        colour_mode=args.colour_mode,
        model=args.model,
        fidelity=args.fidelity,
        device=args.device,
        precision=args.precision,
        patch=args.patch,
        blending=args.blending,
        batch_size=args.batch_size,
        noise=args.noise,
        manifest_path=args.manifest,
        **input_kwargs(args),
    )
    if args.dask:
        return run_batch(
            "superres",
            args,
            {"OUTPUT": args.output},
            lambda path, out: SuperresRequest(path, out["OUTPUT"], config),
        )
    single_input(args, "superres")
    console = Console("superres", quiet=args.quiet)
    result = run_job(
        SuperresRequest(args.input, args.output, config),
        progress=console.progress,
        log=console.info,
    )
    console.close()
    print(
        f"wrote {result.output} ({result.width}x{result.height} px, bands "
        f"{','.join(map(str, result.bands))}, {result.colour_mode}, model {result.model_id}) "
        f"in {result.seconds:.1f} s"
    )
    return 0
