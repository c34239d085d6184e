"""`marsspec confidence INPUT CONFIDENCE --model evc-bins20 --measure ...`: per-pixel
confidence of a bin model (per band + overall). Same as marsspec:binconfidence."""

from __future__ import annotations

import argparse
import sys

from marsspec.cli.commands.predict import add_common, common_request_kwargs, progress_printer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, "evc-bins20")
    parser.add_argument("confidence", help="output GeoTIFF: one band per predicted band + overall")
    parser.add_argument(
        "--measure", default="max_probability", help="max_probability | entropy | multimodal"
    )


def run(args: argparse.Namespace) -> int:
    from marsspec.core.spectral import PredictRequest, predict_spectra

    req = PredictRequest(
        output=None,
        confidence=args.confidence,
        confidence_measure=args.measure,
        **common_request_kwargs(args),
    )
    result = predict_spectra(
        req,
        progress=progress_printer("confidence"),
        warn=lambda w: print(f"warning: {w}", file=sys.stderr),
    )
    print(
        f"confidence={result.outputs['CONFIDENCE']} measure={args.measure} "
        f"seconds={result.seconds:.1f}"
    )
    return 0
