"""`marsspec eval spectra`: the bundled spectral models on held-out simulated scenes.

Full scenes go through the same tiled path users run (s = 2, Gaussian blending). Scenes use
seeds training never saw (9000+). Truth is the simulator's noise-free CRISM target on the CTX
grid, normalised image-wise like the models' outputs. Metrics per band, averaged:
PCC; RMSE in normalised units; cosine similarity in I/F (prediction converted with the
scene's own target statistics). Baseline: per-band linear regression on CTX brightness fitted
on training scenes. confidence_error_spearman: Spearman correlation of the bin model's overall
max-probability confidence with its mean absolute error (negative = confidence is useful).

`marsspec eval spectra --data DIR --model ID` scores a model on the user's own pairs instead
(:mod:`marsspec.training.evaluation.own_pairs`): every scene folder of DIR in the training
layout (``ctx.tif`` + ``crism_target.tif``) is predicted through the job contract and compared
with its target, per band, per image and pooled, next to a per-band linear baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from marsspec.core.errors import InputError
from marsspec.core.metrics.spectral import cosine, pcc, rmse, spearman
from marsspec.core.models.normalisation import array_stats, denormalise, normalise

EVC = (592.0, 533.0, 442.0)
FC = (2503.0, 1500.0, 1080.0)
SITES = ("gale", "jezero", "holden", "melas_chasma", "eberswalde", "mawrth_vallis")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenes", type=int, default=3, help="held-out scenes (seeds 9000+)")
    parser.add_argument("--size", type=int, default=512, help="scene size in CTX pixels")
    parser.add_argument("--seed-base", type=int, default=9000)
    parser.add_argument("--baseline-scenes", type=int, default=8, help="training scenes to fit")
    parser.add_argument("--work-dir", default=None, help="keep scenes and predictions here")
    parser.add_argument("--stride-factor", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--manifest", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--only", default=None, help="comma-separated model ids to evaluate")
    parser.add_argument(
        "--data",
        default=None,
        help="score --model on your own pairs: a folder of scene folders, each with ctx.tif and "
        "crism_target.tif (the training layout) instead of simulated scenes",
    )
    parser.add_argument("--model", default=None, help="with --data: the model id to score")
    parser.add_argument(
        "--baseline-from",
        default=None,
        help="with --data: scene folders to fit the per-band linear baseline on (default: the "
        "model's training scenes when its manifest entry names them)",
    )
    parser.add_argument("--csv", default=None, help="with --data: also write every metric here")
    parser.add_argument(
        "--precision", default="auto", help="with --data: auto (default) | fp32 | bf16 | fp16"
    )


def _simulate(seed: int, size: int, site: str, out: Path) -> Path:
    from marsspec.core.simulator import SceneConfig, simulate_scene

    if not (out / "truth.json").is_file():
        simulate_scene(SceneConfig(seed=seed, size=size, site=site, products=("ctx", "crism")), out)
    return out


def _read(path: Path, bands=None):
    with rasterio.open(path) as src:
        data = src.read(bands, masked=True).astype(np.float64)
    return data.filled(np.nan)


def truth_bands(scene: Path, lams) -> tuple[np.ndarray, np.ndarray]:
    """(S, H, W) raw I/F truth for the wavelengths, and the valid mask."""
    from marsspec.training.spectra.data import target_bands

    with rasterio.open(scene / "crism_target.tif") as src:
        bands = target_bands(src, list(lams))
    t = _read(scene / "crism_target.tif", bands)
    c = _read(scene / "ctx.tif", 1)
    valid = np.all(np.isfinite(t), axis=0) & np.isfinite(c)
    return t, valid


def znorm(values: np.ndarray, valid: np.ndarray):
    stats = array_stats(values[valid])
    return normalise(values, stats), stats


def fit_baseline(scenes: list[Path]) -> dict[float, tuple[float, float]]:
    """Per band: least squares y_z = a * ctx_z + b over training scenes."""
    xs, ys = [], {lam: [] for lam in EVC}
    for scene in scenes:
        t, valid = truth_bands(scene, EVC)
        c = _read(scene / "ctx.tif", 1)
        cz, _ = znorm(c, np.isfinite(c))
        xs.append(cz[valid])
        for b, lam in enumerate(EVC):
            ys[lam].append(znorm(t[b], valid)[0][valid])
    x = np.concatenate(xs)
    return {lam: tuple(np.polyfit(x, np.concatenate(ys[lam]), 1)) for lam in EVC}


def band_metrics(pred_z, truth, valid) -> dict[str, float]:
    tz, stats = znorm(truth, valid)
    keep = valid & np.isfinite(pred_z)
    return {
        "pcc": pcc(pred_z[keep], tz[keep]),
        "rmse": rmse(pred_z[keep], tz[keep]),
        "cosine": cosine(denormalise(pred_z[keep], stats), truth[keep]),
    }


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, arguments that leave nothing to measure."""
    for flag, value, low in (
        ("--scenes", args.scenes, 1),
        ("--baseline-scenes", args.baseline_scenes, 1),
        ("--size", args.size, 128),
        ("--stride-factor", args.stride_factor, 1),
    ):
        if value < low:
            raise InputError(f"{flag} {value}: give at least {low}.")
    if args.work_dir and Path(args.work_dir).exists() and not Path(args.work_dir).is_dir():
        raise InputError(f"--work-dir {args.work_dir!r} is a file; give a folder.")


def _models(args: argparse.Namespace) -> list:
    from marsspec.core.models.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    spectral = manifest.by_task("spectra-regression", "spectra-bins")
    wanted = [m.strip() for m in args.only.split(",") if m.strip()] if args.only else None
    known = [e.id for e in spectral]
    unknown = [m for m in wanted or () if m not in known]
    if not spectral:
        raise InputError(
            f"{str(manifest.path)!r} lists no spectral model; export one with `marsspec export`."
        )
    if unknown:
        raise InputError(
            f"--only: no spectral model {', '.join(unknown)} in {str(manifest.path)!r}; "
            f"choose from {', '.join(known)}."
        )
    return [e for e in spectral if wanted is None or e.id in wanted]


def run(args: argparse.Namespace) -> dict[str, float | str]:
    if args.data is not None or args.model is not None:
        from marsspec.training.evaluation.own_pairs import evaluate_own_pairs

        return evaluate_own_pairs(args)
    for flag in ("baseline_from", "csv"):
        if getattr(args, flag):
            raise InputError(f"--{flag.replace('_', '-')} goes with --data DIR --model ID.")
    _check_arguments(args)
    models = _models(args)
    with contextlib.ExitStack() as stack:
        if args.work_dir:  # kept, as asked
            work = Path(args.work_dir)
            work.mkdir(parents=True, exist_ok=True)
        else:  # scenes and predictions are scratch: nothing left in /tmp afterwards
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marsspec-eval-")))
        return _evaluate(args, models, work)


def _evaluate(args: argparse.Namespace, models: list, work: Path) -> dict[str, float | str]:
    from marsspec.core.simulator import SITES as ALL_SITES
    from marsspec.core.spectral import PredictRequest, predict_spectra

    sites = sorted(ALL_SITES)
    scenes = [
        _simulate(
            args.seed_base + k,
            args.size,
            SITES[k % len(SITES)],
            work / f"heldout{args.seed_base + k}",
        )
        for k in range(args.scenes)
    ]
    train = [
        _simulate(100 + k, 768, sites[k % len(sites)], work / f"train{100 + k}")
        for k in range(args.baseline_scenes)
    ]
    results: dict[str, float | str] = {"scenes": len(scenes), "scene_size": args.size}
    per: dict[str, list[float]] = {}
    coef = fit_baseline(train)
    spear = []
    for scene in scenes:
        c = _read(scene / "ctx.tif", 1)
        cz, _ = znorm(c, np.isfinite(c))
        t, valid = truth_bands(scene, EVC)
        for lam in EVC:
            a, b = coef[lam]
            m = band_metrics(a * cz + b, t[EVC.index(lam)], valid)
            per.setdefault("baseline_evc_pcc", []).append(m["pcc"])
        for entry in models:
            out = work / f"{scene.name}_{entry.id}.tif"
            conf = work / f"{scene.name}_{entry.id}_conf.tif" if entry.bins else None
            predict_spectra(
                PredictRequest(
                    input=scene / "ctx.tif",
                    output=out,
                    confidence=conf,
                    model=entry.id,
                    stride_factor=args.stride_factor,
                    device=args.device,
                    manifest=args.manifest,
                )
            )
            lams = tuple(float(b["wavelength_nm"]) for b in entry.bands)
            truth, valid = truth_bands(scene, lams)
            pred = _read(out)
            prefix = "bins" if entry.bins else entry.product
            errors = []
            for k in range(len(lams)):
                m = band_metrics(pred[k], truth[k], valid)
                for key, value in m.items():
                    per.setdefault(f"{prefix}_{key}", []).append(value)
                    per.setdefault(f"{entry.id}_{lams[k]:g}_{key}", []).append(value)
                errors.append(np.abs(pred[k] - znorm(truth[k], valid)[0]))
            if conf is not None:
                overall = _read(conf, len(lams) + 1)
                err = np.mean(errors, axis=0)
                keep = valid & np.isfinite(overall) & np.isfinite(err)
                idx = np.random.default_rng(0).permutation(np.flatnonzero(keep))[:50000]
                spear.append(spearman(overall.ravel()[idx], err.ravel()[idx]))
    for key in sorted(per):
        results[key] = float(np.nanmean(per[key]))
    if spear:
        results["confidence_error_spearman"] = float(np.mean(spear))
    if "evc_pcc" in results:
        results["evc_pcc_minus_baseline"] = results["evc_pcc"] - results["baseline_evc_pcc"]
    if "evc_pcc" in results and "bins_pcc" in results:
        results["bins_minus_regression_pcc"] = results["bins_pcc"] - results["evc_pcc"]
    results["training_data"] = "SIMULATED"
    return results
