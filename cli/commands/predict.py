"""`marsspec predict INPUT OUTPUT --model ...`: CRISM EVC/FC bands from a CTX raster.

Same parameters as the Processing algorithm marsspec:predictspectra.
"""

from __future__ import annotations

import argparse
import sys

from marsspec.core.errors import InputError


def add_common(parser: argparse.ArgumentParser, default_model: str) -> None:
    parser.add_argument("input", help="CTX raster (any GDAL format)")
    parser.add_argument("--band", type=int, default=None, help="CTX band (needed if multi-band)")
    parser.add_argument("--model", default=default_model, help="bundled model id (see models/)")
    parser.add_argument("--stride-factor", type=int, default=None, help="s in 1..4 (default 2)")
    parser.add_argument("--blending", default="gaussian", help="gaussian | mean")
    parser.add_argument(
        "--normalisation", default="image", help="image (default) | global (Table A1) | patch"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--dem",
        default=None,
        help="DEM of the scene, for models with a DEM channel (any Mars grid)",
    )
    parser.add_argument("--manifest", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--allow-non-mars",
        action="store_true",
        help="run on an input whose CRS is on another body (refused by default)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, "evc-regression")
    parser.add_argument("output", help="output GeoTIFF (float32 bands)")
    parser.add_argument("--browse", default=None, help="optional uint8 RGB browse GeoTIFF")
    parser.add_argument("--confidence", default=None, help="optional confidence (bin models)")
    parser.add_argument(
        "--measure", default="max_probability", help="max_probability | entropy | multimodal"
    )
    parser.add_argument("--reconstruction", default="weighted", help="weighted | argmax")
    parser.add_argument(
        "--target-stats",
        default=None,
        help="mean,std per band separated by ';' (I/F of the scene) to convert output to I/F",
    )


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


def progress_printer(label: str):
    state = {"last": -1}

    def progress(fraction: float) -> None:
        pct = int(fraction * 100)
        if pct // 10 != state["last"] // 10:
            print(f"{label}: {pct}%", file=sys.stderr, flush=True)
        state["last"] = pct

    return progress


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
        "allow_non_mars": args.allow_non_mars,
    }


def run(args: argparse.Namespace) -> int:
    from marsspec.core.spectral import PredictRequest, predict_spectra

    req = PredictRequest(
        output=args.output,
        target_stats=parse_stats(args.target_stats),
        reconstruction=args.reconstruction,
        browse=args.browse,
        confidence=args.confidence,
        confidence_measure=args.measure,
        **common_request_kwargs(args),
    )
    result = predict_spectra(
        req,
        progress=progress_printer("predict"),
        warn=lambda w: print(f"warning: {w}", file=sys.stderr),
    )
    for key, path in result.outputs.items():
        print(f"{key.lower()}={path}")
    print(
        f"units={result.units} device={result.device} precision={result.precision} "
        f"seconds={result.seconds:.1f}"
    )
    return 0
