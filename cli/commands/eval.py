"""`marsspec eval [spectra|coreg|sr] ...`: evaluations that print ``key=value`` lines.

Each evaluator lives in its own module, imported only when asked for, that provides
``add_arguments(parser)`` and ``run(args) -> dict[str, float | str]``. The dispatcher owns the
output format so every evaluation reads the same way in logs and in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import numbers

from marsspec.core.errors import InputError

EVALUATORS: dict[str, tuple[str, str]] = {
    "spectra": (
        "marsspec.training.evaluation.spectra",
        "bundled EVC/FC models on held-out simulated scenes (default)",
    ),
    "coreg": (
        "marsspec.core.coreg.evaluate",
        "co-registration residuals against a simulated known misregistration",
    ),
    "sr": (
        "marsspec.training.evaluation.sr",
        "super-resolution gains over bicubic on held-out images",
    ),
    "real": (
        "marsspec.training.evaluation.real",
        "train on real CRISM browse pairs, score held-out products against linear",
    ),
    "determinism": (
        "marsspec.training.evaluation.determinism",
        "identical predict --precision auto calls: identical tags and pixels",
    ),
}
DEFAULT = "spectra"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    choices = ", ".join(f"{name} ({text})" for name, (_, text) in EVALUATORS.items())
    parser.add_argument("name", nargs="?", default=DEFAULT, help=f"what to evaluate: {choices}")
    parser.add_argument(
        "options", nargs=argparse.REMAINDER, help="options of that evaluation (NAME --help)"
    )


def format_value(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def not_finite(results: dict[str, float | int | str]) -> list[str]:
    """Keys whose value is NaN or infinite: an evaluation that had nothing to measure."""
    return [
        key
        for key, value in results.items()
        if isinstance(value, numbers.Real) and not math.isfinite(float(value))
    ]


def run(args: argparse.Namespace) -> int:
    if args.name not in EVALUATORS:
        raise InputError(
            f"Unknown evaluation {args.name!r}; choose one of {', '.join(EVALUATORS)}."
        )
    module_name, text = EVALUATORS[args.name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"marsspec eval {args.name}", description=text)
    module.add_arguments(parser)
    results = module.run(parser.parse_args(args.options))
    bad = not_finite(results)
    if bad:  # never print `key=nan` and exit 0: a number nobody measured is not a result
        raise InputError(
            f"eval {args.name}: {', '.join(bad)} came out as {format_value(results[bad[0]])}: "
            f"the evaluation had no valid data to measure; check its inputs "
            f"(marsspec eval {args.name} --help)."
        )
    for key, value in results.items():
        print(f"{key}={format_value(value)}", flush=True)
    return 0
