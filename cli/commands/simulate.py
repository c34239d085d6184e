"""`marsspec simulate --out DIR --seed N --size PX --site NAME`: a simulated Mars scene."""

from __future__ import annotations

import argparse
import json

from marsspec.core.errors import InputError, MissingDependencyError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same scene)")
    parser.add_argument("--size", type=int, default=512, help="CTX pixels per side (6 m/px)")
    parser.add_argument("--site", default="jezero", help="site preset (jezero, gale, ...)")
    parser.add_argument(
        "--crism-wavelengths",
        default=None,
        help="comma-separated CRISM band centres in nm "
        "(default EVC 592,533,442 + FC 2503,1500,1080)",
    )
    parser.add_argument(
        "--products",
        default="ctx,crism,cassis,hirise",
        help="comma-separated subset of ctx,crism,cassis,hirise",
    )
    parser.add_argument("--hirise-size", type=int, default=None, help="HiRISE patch side in px")
    parser.add_argument("--hirise-pixel", type=float, default=0.75, help="HiRISE metres/px")
    parser.add_argument("--json", action="store_true", help="print the truth summary as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        from marsspec.core.simulator import SceneConfig, simulate_scene
    except ImportError as error:  # the simulator ships in core/; a package it needs may not
        from marsspec.core.dependencies import install_command, requirement_for

        missing = (error.name or "scipy").split(".")[0]
        if missing == "marsspec":  # our own module: a bug, reported as one by cli/main.py
            raise
        raise MissingDependencyError(
            f"The simulator needs the Python package {missing!r}, which this Python lacks; "
            f"install it with: {install_command([requirement_for(missing)])}"
        ) from error
    kwargs = {}
    if args.crism_wavelengths:
        try:
            kwargs["crism_wavelengths_nm"] = tuple(
                float(v) for v in args.crism_wavelengths.split(",") if v.strip()
            )
        except ValueError as error:
            raise InputError(
                f"--crism-wavelengths must be numbers in nm separated by commas ({error})."
            ) from error
    config = SceneConfig(
        seed=args.seed,
        size=args.size,
        site=args.site,
        products=tuple(p.strip() for p in args.products.split(",") if p.strip()),
        hirise_size=args.hirise_size,
        hirise_pixel_m=args.hirise_pixel,
        **kwargs,
    )
    result = simulate_scene(config, args.out)
    if args.json:
        print(json.dumps(result.truth, indent=2, default=str))
    else:
        for key, path in result.files.items():
            print(f"{key}: {path}")
        print(f"simulated in {result.seconds:.1f} s")
    return 0
