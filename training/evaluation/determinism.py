"""`marsspec eval determinism` (`make eval-determinism`): identical `predict --precision auto`
calls, each in its own process, must give identical tags and identical pixels.

Issue 22 saw `auto` choose bf16 in 12 and fp32 in 10 of 22 identical CPU calls (a timing
probe); `auto` now decides from the device and the model alone (core/devices.py). This runs
the calls as a user would, one ``python -m marsspec predict`` process each, on a simulated
CTX scene, and compares every output with the first: every dataset and band tag (marsspec
writes no timestamp or duration into a raster) and every pixel.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=20, help="identical predict calls")
    parser.add_argument("--model", default="evc-regression")
    parser.add_argument("--size", type=int, default=384, help="scene size in CTX pixels")
    parser.add_argument("--device", default="auto")


def _predict(ctx: Path, out: Path, args: argparse.Namespace) -> None:
    command = [sys.executable, "-m", "marsspec", "predict", str(ctx), str(out)]
    command += ["--model", args.model, "--device", args.device, "--precision", "auto", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"eval determinism: predict failed (exit {done.returncode}): {last}")


def run(args: argparse.Namespace) -> dict[str, float | str]:
    import rasterio

    from marsspec.core.simulator import SceneConfig, simulate_scene

    if args.calls < 2:
        raise InputError(f"--calls {args.calls}: give at least 2.")
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marsspec-det-")))
        simulate_scene(SceneConfig(seed=9100, size=args.size, products=("ctx",)), work / "scene")
        ctx = work / "scene" / "ctx.tif"
        first_tags = first_pixels = None
        same_tags = same_pixels = 0
        precisions: set[str] = set()
        for k in range(args.calls):
            out = work / f"p{k}.tif"
            _predict(ctx, out, args)
            with rasterio.open(out) as src:
                tags = src.tags()
                band_tags = [src.tags(b) for b in range(1, src.count + 1)]
                pixels = src.read()
            precisions.add(tags.get("MARSSPEC_PRECISION", "?"))
            if first_tags is None:
                first_tags, first_pixels = (tags, band_tags), pixels
            same_tags += int((tags, band_tags) == first_tags)
            same_pixels += int(np.array_equal(pixels, first_pixels, equal_nan=True))
            out.unlink()
    return {
        "model": args.model,
        "calls": args.calls,
        "precisions_chosen": ",".join(sorted(precisions)),
        "identical_tags": same_tags,
        "identical_pixels": same_pixels,
        "deterministic": "yes" if same_tags == same_pixels == args.calls else "no",
    }
