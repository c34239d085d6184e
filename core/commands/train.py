"""`marsspec train --config X.yaml [--set key=value ...]`: train a model from a YAML config.

The config's ``task`` picks the trainer: ``spectra-regression``/``spectra-bins`` ->
marsspec.training.spectra.train, ``superres`` -> marsspec.training.superres.train. Trainers
live in training/, which the plugin zip does not ship, so this runs from a source checkout.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

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


def _yaml_loader():
    """PyYAML's SafeLoader reads ``5e-3`` as a string (YAML 1.1 wants ``5.0e-3``); configs
    and ``--set`` values are written the YAML 1.2 / Python way, so resolve those as floats."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def read_config(path: str, overrides: list[str]) -> dict:
    import yaml

    loader = _yaml_loader()
    file = Path(path)
    if not file.is_file():
        raise InputError(f"Config file {path!r} does not exist; see training/configs/.")
    data = yaml.load(file.read_text(encoding="utf-8"), Loader=loader) or {}
    if not isinstance(data, dict):
        raise InputError(f"{path} must be a YAML mapping of config keys.")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r}: write KEY=VALUE.")
        data[key.strip()] = yaml.load(value, Loader=loader)
    return data


def run(args: argparse.Namespace) -> int:
    config = read_config(args.config, args.set)
    task = config.get("task")
    if task not in TRAINERS:
        raise InputError(f"Config task {task!r} is unknown; use one of {', '.join(TRAINERS)}.")
    try:
        module = importlib.import_module(TRAINERS[task])
    except ImportError as error:
        raise MissingDependencyError(
            f"The trainer for {task!r} is not available ({error}); training lives in "
            "marsspec/training/, which only a source checkout has."
        ) from error
    return int(module.main(config) or 0)
