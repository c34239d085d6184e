"""`marsspec confidence INPUT CONFIDENCE --model evc-bins20 --measure ...`: per-pixel
confidence of a bin model (per band + overall). Same as marsspec:binconfidence."""

from __future__ import annotations

import argparse

from marsspec.cli.commands.predict import add_common, choices_help, common_request_kwargs
from marsspec.cli.progress import Console
from marsspec.core import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, "confidence")
    parser.add_argument("confidence", help="output GeoTIFF: one band per predicted band + overall")
    parser.add_argument(
        "--measure", default=options.DEFAULT_MEASURE, help=choices_help(options.MEASURES)
    )


def run(args: argparse.Namespace) -> int:
    from marsspec.core.jobs import run as run_job
    from marsspec.core.spectral import PredictRequest

    req = PredictRequest(
        output=None,
        confidence=args.confidence,
        confidence_measure=args.measure,
        **common_request_kwargs(args),
    )
    console = Console("confidence", quiet=args.quiet)
    result = run_job(req, progress=console.progress, log=console.warn)
    console.close()
    print(
        f"confidence={result.outputs['CONFIDENCE']} measure={args.measure} "
        f"seconds={result.seconds:.1f}"
    )
    return 0
