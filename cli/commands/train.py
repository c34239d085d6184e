"""`marsspec train --config X.yaml [--set key=value ...]`: train a model from a YAML config.

The config's ``task`` picks the trainer: ``spectra-regression``/``spectra-bins`` ->
marsspec.training.spectra.train, ``superres`` -> marsspec.training.superres.train. Trainers
live in training/, which the plugin zip does not ship, so this runs from a source checkout.
"""

from __future__ import annotations

import argparse
import importlib

from marsspec.core.errors import InputError, MissingDependencyError

TRAINERS = {
    "spectra-regression": "marsspec.training.spectra.train",
    "spectra-bins": "marsspec.training.spectra.train",
    "superres": "marsspec.training.superres.train",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML training config")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (YAML value), e.g. --set max_minutes=5 --set out_dir=runs/x",
    )


def _schema():
    try:
        from marsspec.training import config_schema
    except ImportError as error:
        raise MissingDependencyError(
            f"Training is not available ({error}); it lives in marsspec/training/, which only "
            "a source checkout has."
        ) from error
    return config_schema


def read_config(path: str, overrides: list[str]) -> dict:
    """The YAML config with ``--set`` overrides; a malformed line is an InputError naming the
    file and line (training/config_schema.py; the trainer checks keys and types)."""
    return _schema().read_config(path, overrides)


def run(args: argparse.Namespace) -> int:
    config = read_config(args.config, args.set)
    task = config.get("task")
    if not isinstance(task, str) or task not in TRAINERS:
        where = getattr(config, "origins", {}).get("task", args.config)
        raise InputError(
            f"{where}: task {task!r} is unknown; use one of {', '.join(TRAINERS)}."
            if "task" in config
            else f"{args.config}: the config has no `task:`; add one of {', '.join(TRAINERS)}."
        )
    try:
        module = importlib.import_module(TRAINERS[task])
    except ImportError as error:
        raise MissingDependencyError(
            f"The trainer for {task!r} is not available ({error}); training lives in "
            "marsspec/training/, which only a source checkout has."
        ) from error
    return int(module.main(config) or 0)
