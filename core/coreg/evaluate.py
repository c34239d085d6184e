"""`marsspec eval coreg`: residual misregistration after co-registration, against the known
misregistration of simulated scenes (SIMULATED data, not real CRISM/CTX).

The simulator shifts CRISM by d(G) (global shift + smooth warp, metres; convention in
core/simulator/misregistration.py): the CRISM pixel at map position P sees the ground at
P - d(P). The perfect correction for ground Q therefore samples CRISM at P with P - d(P) = Q,
found by fixed-point iteration (``Misregistration.offset_at``, docs/simulator.md). The
residual is |correction(Q) - (P - Q)| in CTX pixels, over every 4th output pixel with valid
CRISM data. The scene's misregistration is drawn wider than the simulator's default (global
shift 2-15 CRISM px, warp up to 3 CTX px) through the simulator's misregistration options.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=2048, help="CTX pixels per side (2048)")
    parser.add_argument("--seed", type=int, default=6, help="scene seed (6)")
    parser.add_argument("--site", default="jezero", help="simulator site preset (jezero)")
    parser.add_argument(
        "--shift-px",
        type=float,
        nargs=2,
        default=(2.0, 15.0),
        metavar=("MIN", "MAX"),
        help="global shift range in CRISM pixels (2 15)",
    )
    parser.add_argument(
        "--warp-px", type=float, default=3.0, help="largest local warp in CTX pixels (3)"
    )
    parser.add_argument("--cpus", type=int, default=1, help="arosics worker processes (1)")
    parser.add_argument("--grid-spacing", type=int, default=16, help="tie-point spacing (16)")
    parser.add_argument("--oversample", type=int, default=2, help="matching oversampling (2)")
    parser.add_argument("--window", type=int, default=64, help="matching window, CRISM px (64)")
    parser.add_argument("--keep", type=Path, help="keep the scene and outputs in this folder")


def simulate_pair(out_dir: Path, seed: int, size: int, site: str, shift_px, warp_ctx_px):
    """ctx.tif + crism.tif (+ truth.json) with wider misregistration ranges than the
    simulator's default: ``shift_px`` CRISM px global shift, ``warp_ctx_px`` CTX px warp."""
    from marsspec.core.simulator import SceneConfig, simulate_scene

    base = SceneConfig()
    warp = warp_ctx_px * base.ctx_pixel_m / base.crism_pixel_m
    config = SceneConfig(
        seed=seed,
        size=size,
        site=site,
        products=("ctx", "crism"),
        shift_crism_px=(float(shift_px[0]), float(shift_px[1])),
        warp_crism_px=(warp, warp),
    )
    return simulate_scene(config, out_dir)


def misregistration_from_truth(truth: dict):
    from marsspec.core.simulator.misregistration import Misregistration

    return Misregistration.from_dict(truth["crism"]["misregistration"])


def true_offset(misregistration, x: np.ndarray, y: np.ndarray):
    """(dx, dy) metres such that the CRISM pixel at (x + dx, y + dy) sees the ground at (x, y)
    (the simulator's o(Q), docs/simulator.md)."""
    return misregistration.offset_at(x, y)


def residual_px(output_target: Path, correction, misregistration, step: int = 4) -> np.ndarray:
    """Residual misregistration (CTX px) at every ``step``-th valid pixel of the output."""
    import rasterio

    with rasterio.open(output_target) as dataset:
        band = dataset.read(1)[::step, ::step]
        t = dataset.transform
        pixel = abs(t.a)
        rows, cols = np.nonzero(band != dataset.nodata)
    x = t.c + (cols * step + 0.5) * t.a
    y = t.f + (rows * step + 0.5) * t.e
    ex, ey = correction.at(x, y)
    tx, ty = true_offset(misregistration, x, y)
    return np.hypot(ex - tx, ey - ty) / pixel


def run(args: argparse.Namespace) -> dict[str, float | str]:
    import json

    from marsspec.core.coreg import CoregConfig, CoregRequest, coregister

    with contextlib.ExitStack() as stack:
        if args.keep:
            folder = Path(args.keep)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="coreg-eval-")))
        scene = simulate_pair(folder, args.seed, args.size, args.site, args.shift_px, args.warp_px)
        truth = json.loads(Path(scene.files["truth"]).read_text())
        misregistration = misregistration_from_truth(truth)
        config = CoregConfig(
            cpus=args.cpus,
            grid_spacing=args.grid_spacing,
            oversample=args.oversample,
            window_size=args.window,
        )
        start = time.perf_counter()
        result = coregister(
            CoregRequest(
                scene.files["ctx"],
                scene.files["crism"],
                folder / "crism_coreg.tif",
                folder / "ctx_cut.tif",
                folder / "tie_points.gpkg",
                config,
            )
        )
        seconds = time.perf_counter() - start
        residual = residual_px(folder / "crism_coreg.tif", result.correction, misregistration)
        before = residual_px(
            folder / "crism_coreg.tif", _zero_like(result.correction), misregistration
        )
        m = truth["crism"]["misregistration"]
        return {
            "coreg_median_px": float(np.median(residual)),
            "coreg_p90_px": float(np.percentile(residual, 90)),
            "coreg_max_px": float(residual.max()),
            "coreg_before_median_px": float(np.median(before)),
            "coreg_seconds": seconds,
            "coreg_method": result.method,
            "coreg_points_used": result.used_points,
            "coreg_points_valid": result.valid_points,
            "coreg_ssim_before": result.ssim_before,
            "coreg_ssim_after": result.ssim_after,
            "true_shift_crism_px": float(math.hypot(m["shift_col_px"], m["shift_row_px"])),
            "true_warp_m": float(m["warp_amplitude_m"]),
            "ctx_size_px": args.size,
            "data": "simulated",
        }


def _zero_like(_correction):
    from marsspec.core.coreg.field import CorrectionField

    return CorrectionField("none", 0.0, 0.0, 1.0, np.zeros((1, 1)), np.zeros((1, 1)))
