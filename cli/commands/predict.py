"""`marsspec predict INPUT OUTPUT --model ...`: CRISM EVC/FC bands from a CTX raster.

Same parameters as the Processing algorithm marsspec:predictspectra.
"""

from __future__ import annotations

import argparse

from marsspec.cli.arguments import add_input_arguments, input_kwargs
from marsspec.cli.progress import Console, add_quiet
from marsspec.cli.scaled import add_dask_arguments, run_batch, single_input
from marsspec.core import options
from marsspec.core.errors import InputError


def choices_help(values: tuple[str, ...], *extra: str) -> str:
    """Help text listing the options of core.options, the first (the default) marked."""
    return " | ".join((f"{values[0]} (default)", *values[1:], *extra))


def add_common(parser: argparse.ArgumentParser, job: str, *, many: bool = False) -> None:
    """Arguments shared by predict and confidence; ``job`` picks the models offered;
    ``many``: several inputs (folders, .txt lists) for --dask runs."""
    ids = options.model_ids(job)
    if many:
        parser.add_argument(
            "input",
            nargs="+",
            help="CTX raster(s) (any GDAL format); with --dask also "
            "several, a folder or a .txt list",
        )
    else:
        parser.add_argument("input", help="CTX raster (any GDAL format)")
    parser.add_argument("--band", type=int, default=None, help="CTX band (needed if multi-band)")
    parser.add_argument(
        "--model",
        default=options.default_model(job, ids),
        help=f"model id ({options.models_listing(job)}; default %(default)s)",
    )
    parser.add_argument(
        "--stride-factor",
        type=int,
        default=None,
        help="s in 1..4, stride = patch / s (default: the model's, from its manifest entry)",
    )
    parser.add_argument(
        "--blending", default=options.DEFAULT_BLENDING, help=choices_help(options.BLENDINGS)
    )
    parser.add_argument(
        "--normalisation",
        default=options.DEFAULT_NORMALISATION,
        help=choices_help(options.NORMALISATIONS) + " (global: paper Table A1)",
    )
    parser.add_argument(
        "--device", default=options.DEFAULT_DEVICE, help=choices_help(options.DEVICES, "cuda:N")
    )
    parser.add_argument(
        "--precision", default=options.DEFAULT_PRECISION, help=choices_help(options.PRECISIONS)
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--dem",
        default=None,
        help="DEM of the scene, for models with a DEM channel (any Mars grid)",
    )
    parser.add_argument("--manifest", default=None, help=argparse.SUPPRESS)
    add_input_arguments(parser)
    add_quiet(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, "predict", many=True)
    parser.add_argument("output", help="output GeoTIFF (float32 bands); a folder for several")
    parser.add_argument("--browse", default=None, help="optional uint8 RGB browse GeoTIFF")
    parser.add_argument("--confidence", default=None, help="optional confidence (bin models)")
    parser.add_argument(
        "--measure", default=options.DEFAULT_MEASURE, help=choices_help(options.MEASURES)
    )
    parser.add_argument(
        "--reconstruction",
        default=options.DEFAULT_RECONSTRUCTION,
        help=choices_help(options.RECONSTRUCTIONS),
    )
    parser.add_argument(
        "--target-stats",
        default=None,
        help="mean,std per band separated by ';' (I/F of the scene) to convert output to I/F",
    )
    add_dask_arguments(parser)


def parse_stats(text: str | None) -> list[tuple[float, float]] | None:
    if not text:
        return None
    try:
        pairs = [tuple(float(v) for v in item.split(",")) for item in text.split(";") if item]
    except ValueError as exc:
        raise InputError(f"--target-stats {text!r}: write mean,std;mean,std;... ({exc})") from exc
    if any(len(p) != 2 for p in pairs):
        raise InputError("--target-stats needs exactly two numbers (mean,std) per band.")
    return pairs  # type: ignore[return-value]


def common_request_kwargs(args: argparse.Namespace) -> dict:
    """The PredictRequest fields that ``add_common`` defines (predict and confidence)."""
    return {
        "input": args.input,
        "model": args.model,
        "band": args.band,
        "stride_factor": args.stride_factor,
        "blending": args.blending,
        "normalisation": args.normalisation,
        "device": args.device,
        "precision": args.precision,
        "batch_size": args.batch_size,
        "manifest": args.manifest,
        "dem": args.dem,
        **input_kwargs(args),
    }


def run(args: argparse.Namespace) -> int:
    from marsspec.core.jobs import run as run_job
    from marsspec.core.spectral import PredictRequest

    if args.dask:
        return run_batch(
            "predict",
            args,
            {"OUTPUT": args.output, "CONFIDENCE": args.confidence, "BROWSE": args.browse},
            lambda path, out: PredictRequest(
                output=out["OUTPUT"],
                target_stats=parse_stats(args.target_stats),
                reconstruction=args.reconstruction,
                browse=out["BROWSE"],
                confidence=out["CONFIDENCE"],
                confidence_measure=args.measure,
                **{**common_request_kwargs(args), "input": path},
            ),
        )
    single_input(args, "predict")
    req = PredictRequest(
        output=args.output,
        target_stats=parse_stats(args.target_stats),
        reconstruction=args.reconstruction,
        browse=args.browse,
        confidence=args.confidence,
        confidence_measure=args.measure,
        **common_request_kwargs(args),
    )
    console = Console("predict", quiet=args.quiet)
    result = run_job(req, progress=console.progress, log=console.warn)
    console.close()
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    print(
        f"units={result.units} device={result.device} precision={result.precision} "
        f"seconds={result.seconds:.1f}"
    )
    return 0
