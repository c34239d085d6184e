"""`marsspec eval spectra --data DIR --model ID`: score a spectral model on your own pairs.

DIR holds scene folders in the training layout (training/spectra/data.py): ``ctx.tif`` (the
input, band 1) and ``crism_target.tif`` (the target on the CTX grid, nodata outside its
footprint, bands found by wavelength). Each ``ctx.tif`` is predicted through the job contract
(``core.jobs.run`` with a :class:`PredictRequest`, into a temporary folder) and compared with
its target over the pixels valid in both, per band:

* PCC, cosine similarity and RMSE **in the target's units**. A prediction already in target
  units (a model that stores its training set's target statistics) is used as it is; a
  z-score prediction is mapped with the model's ``target_stats`` when its manifest entry has
  them (``target_units_from=model_target_stats``), else with each image's own target
  statistics under the model's normalisation (``target_units_from=per_image_fit``: the scale
  comes from the truth, so RMSE and cosine flatter the network; PCC does not depend on it);
* per image and pooled over all images (every valid pixel of every image together);
* next to a per-band linear baseline ``target = a * ctx + b`` fitted by least squares in raw
  units on the model's training scenes (when its manifest entry names them and they exist
  here) or on ``--baseline-from DIR`` (which wins when given).

Results are ``key=value`` lines (the dispatcher prints them) and, with ``--csv``, one row per
(image or ``pooled``, band, method) written through :func:`core.io.safety.atomic_output`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import re
import tempfile
from pathlib import Path

import numpy as np

from marsspec.core.errors import InputError
from marsspec.core.metrics.spectral import cosine, pcc, rmse

INPUT_NAME = "ctx.tif"
TARGET_NAME = "crism_target.tif"
DEFAULT_TOLERANCE_NM = 15.0
BASELINE_PIXELS_PER_SCENE = 500_000
METRICS = ("pcc", "cosine", "rmse")


# ---- scenes ---------------------------------------------------------------------------------
def scene_folders(folder: str | Path, flag: str = "--data") -> list[Path]:
    """Scene folders under ``folder`` (or ``folder`` itself when it is one), sorted."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"{flag} {str(folder)!r} is not a folder of scene folders.")
    if (root / INPUT_NAME).is_file():
        return [root]
    scenes = sorted(p for p in root.iterdir() if p.is_dir() and (p / INPUT_NAME).is_file())
    incomplete = [p.name for p in scenes if not (p / TARGET_NAME).is_file()]
    if incomplete:
        raise InputError(
            f"{flag}: scene folder(s) {', '.join(incomplete)} in {str(root)!r} have {INPUT_NAME} "
            f"but no {TARGET_NAME}; every scene needs both (marsspec pairs writes them)."
        )
    if not scenes:
        raise InputError(
            f"{flag} {str(folder)!r} holds no scene folder with {INPUT_NAME} and {TARGET_NAME} "
            "(the training layout; marsspec pairs writes it)."
        )
    return scenes


def _training_scenes(entry) -> list[Path]:
    """Scene folders the model's manifest entry names (``training_scenes`` or ``scenes``,
    folders or glob patterns) that exist on this machine."""
    named = getattr(entry, "training_scenes", None) or entry.extra.get("training_scenes")
    named = named or entry.extra.get("scenes")
    if isinstance(named, str):
        named = [named]
    found: list[Path] = []
    for pattern in named or ():
        for hit in sorted(glob.glob(str(Path(str(pattern)).expanduser()))):
            path = Path(hit)
            if (path / INPUT_NAME).is_file() and (path / TARGET_NAME).is_file():
                found.append(path)
            elif path.is_dir():
                with contextlib.suppress(InputError):
                    found.extend(scene_folders(path))
    return list(dict.fromkeys(found))


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


# ---- reading --------------------------------------------------------------------------------
def read_band(path: Path, bands: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(B, H, W) float64 values and the (H, W) mask of pixels valid in every band."""
    from marsspec.training.spectra.data import _read_valid

    data, valid = _read_valid(path, bands)
    return data.astype(np.float64), valid


def target_band_numbers(path: Path, wavelengths_nm: list[float], tolerance_nm: float) -> list[int]:
    import rasterio

    from marsspec.training.spectra.data import reading, target_bands

    with reading(path), rasterio.open(path) as src:
        return target_bands(src, list(wavelengths_nm), tolerance_nm)


def read_scene(scene: Path, wavelengths_nm: list[float], tolerance_nm: float):
    """CTX band 1, the target bands at ``wavelengths_nm`` and their joint valid mask."""
    ctx, ctx_valid = read_band(scene / INPUT_NAME, [1])
    bands = target_band_numbers(scene / TARGET_NAME, wavelengths_nm, tolerance_nm)
    target, target_valid = read_band(scene / TARGET_NAME, bands)
    if target.shape[1:] != ctx.shape[1:]:
        raise InputError(
            f"{scene.name}: {TARGET_NAME} is {target.shape[2]}x{target.shape[1]} px but "
            f"{INPUT_NAME} is {ctx.shape[2]}x{ctx.shape[1]}; put the target on the CTX grid."
        )
    return ctx[0], target, ctx_valid & target_valid


# ---- the baseline ---------------------------------------------------------------------------
def fit_linear_baseline(
    scenes: list[Path], wavelengths_nm: list[float], tolerance_nm: float
) -> list[tuple[float, float]]:
    """Per band (a, b) of ``target = a * ctx + b`` over the scenes' valid pixels (raw units;
    at most :data:`BASELINE_PIXELS_PER_SCENE` pixels per scene, a fixed random subset)."""
    rng = np.random.default_rng(0)
    xs: list[np.ndarray] = []
    ys: list[list[np.ndarray]] = [[] for _ in wavelengths_nm]
    for scene in scenes:
        ctx, target, valid = read_scene(scene, wavelengths_nm, tolerance_nm)
        idx = np.flatnonzero(valid)
        if idx.size > BASELINE_PIXELS_PER_SCENE:
            idx = np.sort(rng.choice(idx, BASELINE_PIXELS_PER_SCENE, replace=False))
        xs.append(ctx.ravel()[idx])
        for k in range(len(wavelengths_nm)):
            ys[k].append(target[k].ravel()[idx])
    x = np.concatenate(xs) if xs else np.empty(0)
    if x.size < 2 or float(np.ptp(x)) == 0.0:
        raise InputError(
            "The linear baseline has no valid pixels (or a constant CTX) to be fitted on in "
            f"{', '.join(s.name for s in scenes)}; give other --baseline-from scenes."
        )
    return [tuple(float(v) for v in np.polyfit(x, np.concatenate(y), 1)) for y in ys]


# ---- units ----------------------------------------------------------------------------------
def parse_target_stats(value, n_bands: int) -> list[tuple[float, float]] | None:
    """(mean, std) per band from a manifest's ``target_stats`` in any of the shapes
    ``[{"mean": m, "std": s}, ...]``, ``[[m, s], ...]``, ``{"mean": [...], "std": [...]}`` or
    ``{name: {"mean": m, "std": s}, ...}``; None when absent or not one per band."""
    if not value:
        return None
    try:
        if isinstance(value, dict) and "mean" in value and "std" in value:
            pairs = list(zip(value["mean"], value["std"], strict=True))
        else:
            items = list(value.values()) if isinstance(value, dict) else list(value)
            pairs = [
                (item["mean"], item["std"]) if isinstance(item, dict) else tuple(item)[:2]
                for item in items
            ]
        stats = [(float(m), float(s)) for m, s in pairs]
    except (TypeError, ValueError, KeyError):
        return None
    return stats if len(stats) == n_bands else None


def _is_zscore(path: Path) -> bool:
    import rasterio

    with rasterio.open(path) as src:
        units = f"{src.tags().get('MARSSPEC_UNITS', '')} {src.tags(1).get('units', '')}".lower()
    return "z-score" in units or "normalised" in units or "normalized" in units


def to_target_units(pred, target, valid, model_stats, clip_percent, zscore: bool):
    """The prediction (B, H, W) in target units, and how it got there."""
    if not zscore:
        return pred, "prediction"
    if model_stats is not None:
        out = np.stack([p * s + m for p, (m, s) in zip(pred, model_stats, strict=True)])
        return out, "model_target_stats"
    from marsspec.core.models.normalisation import masked_stats

    stats = masked_stats(target, valid, clip_percent)
    out = np.stack([p * s.std + s.mean for p, s in zip(pred, stats, strict=True)])
    return out, "per_image_fit"


# ---- the evaluation -------------------------------------------------------------------------
def _metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"pcc": pcc(pred, truth), "cosine": cosine(pred, truth), "rmse": rmse(pred, truth)}


def _check(args: argparse.Namespace) -> None:
    if not args.data or not args.model:
        raise InputError(
            "eval spectra: --data DIR and --model ID go together (score that model on your "
            "pairs); leave both out for the simulated-scene evaluation."
        )
    if args.only:
        raise InputError("--only is for the simulated-scene evaluation; use --model with --data.")


def evaluate_own_pairs(args: argparse.Namespace) -> dict[str, float | str]:
    from marsspec.core.models.manifest import load_manifest

    _check(args)
    entry = load_manifest(args.manifest).get(args.model)
    if entry.task not in ("spectra-regression", "spectra-bins"):
        raise InputError(
            f"Model {entry.id!r} is a {entry.task} model; eval spectra --data scores spectral "
            "models (predict)."
        )
    scenes = scene_folders(args.data)
    lams = [float(b["wavelength_nm"]) for b in entry.bands]
    tolerance = float(
        getattr(entry, "wavelength_tolerance_nm", None)
        or entry.extra.get("wavelength_tolerance_nm")
        or DEFAULT_TOLERANCE_NM
    )
    if args.baseline_from:
        baseline_scenes = scene_folders(args.baseline_from, "--baseline-from")
        baseline_source = "baseline_from"
    else:
        baseline_scenes = _training_scenes(entry)
        baseline_source = "model_training_scenes"
        if not baseline_scenes:
            raise InputError(
                f"No scenes to fit the linear baseline on: model {entry.id!r}'s manifest entry "
                "names no training scenes found on this machine; pass --baseline-from DIR "
                "(scene folders like --data, e.g. the pairs it was trained on)."
            )
    coefficients = fit_linear_baseline(baseline_scenes, lams, tolerance)
    raw_stats = getattr(entry, "target_stats", None) or entry.extra.get("target_stats")
    model_stats = parse_target_stats(raw_stats, len(lams))
    clip = float(entry.normalisation.get("clip_percent", 0.01))
    with tempfile.TemporaryDirectory(prefix="marsspec-eval-data-") as work:
        rows, how = _score(
            args, entry, scenes, lams, tolerance, coefficients, model_stats, clip, Path(work)
        )
    results = _summary(
        args, entry, scenes, lams, rows, how, baseline_scenes, baseline_source, coefficients
    )
    if args.csv:
        results["csv"] = str(write_csv(args.csv, rows, scenes))
    return results


def _predict(args, entry, scene: Path, out: Path) -> None:
    from marsspec.core import jobs
    from marsspec.core.spectral import PredictRequest

    dem = scene / "dem.tif" if entry.in_channels == 2 else None
    if dem is not None and not dem.is_file():
        raise InputError(f"Model {entry.id!r} needs a DEM: put dem.tif in {str(scene)!r}.")
    jobs.run(
        PredictRequest(
            input=scene / INPUT_NAME,
            output=out,
            model=entry.id,
            stride_factor=args.stride_factor,
            device=args.device,
            precision=args.precision,
            manifest=args.manifest,
            dem=dem,
        )
    )


def _score(args, entry, scenes, lams, tolerance, coefficients, model_stats, clip, work: Path):
    """One row per (image or pooled, band, method) and how predictions reached target units."""
    rows: list[dict] = []
    pooled: dict[tuple[int, str], list[list[np.ndarray]]] = {}
    how: set[str] = set()
    for n, scene in enumerate(scenes):
        ctx, target, valid = read_scene(scene, lams, tolerance)
        out = work / f"scene{n}.tif"
        _predict(args, entry, scene, out)
        pred, _ = read_band(out, list(range(1, len(lams) + 1)))
        pred[:, ~np.all(np.isfinite(pred), axis=0)] = np.nan
        keep = valid & np.all(np.isfinite(pred), axis=0)
        if not keep.any():
            raise InputError(f"{scene.name}: no pixel is valid in the CTX, target and prediction.")
        pred, mode = to_target_units(pred, target, keep, model_stats, clip, _is_zscore(out))
        how.add(mode)
        for k, lam in enumerate(lams):
            a, b = coefficients[k]
            truth = target[k][keep]
            for method, values in (("model", pred[k][keep]), ("baseline", a * ctx[keep] + b)):
                rows.append(
                    {"image": scene.name, "band_nm": lam, "method": method, "pixels": truth.size}
                    | _metrics(values, truth)
                )
                pooled.setdefault((k, method), [[], []])
                pooled[(k, method)][0].append(values)
                pooled[(k, method)][1].append(truth)
    for (k, method), (values, truths) in sorted(pooled.items()):
        truth = np.concatenate(truths)
        rows.append(
            {"image": "pooled", "band_nm": lams[k], "method": method, "pixels": truth.size}
            | _metrics(np.concatenate(values), truth)
        )
    mode = "prediction" if how == {"prediction"} else "+".join(sorted(how - {"prediction"}))
    return rows, mode


def _summary(args, entry, scenes, lams, rows, how, baseline_scenes, source, coefficients):
    results: dict[str, float | str] = {
        "mode": "own_pairs",
        "model": entry.id,
        "data": str(Path(args.data).resolve()),
        "images": len(scenes),
        "bands_nm": ",".join(f"{lam:g}" for lam in lams),
        "target_units_from": how,
        "baseline": "per-band linear target=a*ctx+b (least squares, raw units)",
        "baseline_fit_on": source,
        "baseline_scenes": len(baseline_scenes),
    }
    for k, lam in enumerate(lams):
        results[f"baseline_{lam:g}_a"] = coefficients[k][0]
        results[f"baseline_{lam:g}_b"] = coefficients[k][1]
    table = {(r["image"], r["band_nm"], r["method"]): r for r in rows}
    for scene in scenes:  # per image: keys that measured something (a constant image has no PCC)
        for lam in lams:
            for method in ("model", "baseline"):
                row = table[(scene.name, lam, method)]
                prefix = "" if method == "model" else "baseline_"
                for metric in METRICS:
                    if np.isfinite(row[metric]):
                        results[f"{_key(scene.name)}_{lam:g}_{prefix}{metric}"] = row[metric]
    for method in ("model", "baseline"):
        prefix = "" if method == "model" else "baseline_"
        for metric in METRICS:
            values = [table[("pooled", lam, method)][metric] for lam in lams]
            for lam, value in zip(lams, values, strict=True):
                results[f"pooled_{lam:g}_{prefix}{metric}"] = value
            results[f"pooled_{prefix}{metric}"] = float(np.mean(values))
            per_image = [table[(s.name, lam, method)][metric] for s in scenes for lam in lams]
            results[f"image_mean_{prefix}{metric}"] = float(np.nanmean(per_image))
    wins = 0
    for scene in scenes:
        model = np.nanmean([table[(scene.name, lam, "model")]["pcc"] for lam in lams])
        base = np.nanmean([table[(scene.name, lam, "baseline")]["pcc"] for lam in lams])
        wins += int(model > base)
    results["images_model_beats_baseline_pcc"] = wins
    results["pooled_pcc_minus_baseline"] = results["pooled_pcc"] - results["pooled_baseline_pcc"]
    results["image_mean_pcc_minus_baseline"] = (
        results["image_mean_pcc"] - results["image_mean_baseline_pcc"]
    )
    results["model_beats_baseline_pooled_pcc"] = (
        "yes" if results["pooled_pcc_minus_baseline"] > 0 else "no"
    )
    results["model_beats_baseline_image_mean_pcc"] = (
        "yes" if results["image_mean_pcc_minus_baseline"] > 0 else "no"
    )
    results["training_data"] = "SIMULATED" if entry.simulated else "real"
    return results


def write_csv(path: str | Path, rows: list[dict], scenes: list[Path]) -> Path:
    """Every row as CSV (image, band_nm, method, pixels, pcc, cosine, rmse), written through
    :func:`atomic_output` (checked, temporary, published whole)."""
    from marsspec.core.io.safety import atomic_output

    inputs = [s / name for s in scenes for name in (INPUT_NAME, TARGET_NAME)]
    fields = ["image", "band_nm", "method", "pixels", *METRICS]
    with (
        atomic_output(path, kind="text", inputs=inputs) as temp,
        open(temp, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )
    return Path(path).resolve()
