"""Model cards (``<id>.md``) for exported spectral models, from the manifest entry, the
training config and what the checkpoint recorded (steps, minutes, validation history)."""

from __future__ import annotations

import math
from typing import Any

WHAT = {
    "spectra-regression": "pixel-wise regression (paper 000 §3.1)",
    "spectra-bins": "bin classification with per-pixel probabilities (paper 000 §3.2)",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def model_card(entry: dict, config: dict, state: dict | None = None) -> str:
    """The markdown card export writes next to the weights (the manifest's ``card``)."""
    state = state or {}
    kw = entry.get("architecture_kwargs", {})
    bands = entry.get("bands", [])
    band_text = ", ".join(
        f"{b.get('name')} ({b['wavelength_nm']:g} nm)" if b.get("wavelength_nm") else str(b)
        for b in bands
    )
    simulated = entry.get("simulated", True)
    steps = state.get("step")
    minutes = state.get("elapsed")
    lines = [
        f"# {entry['id']} — {entry.get('title', entry['id'])}",
        "",
        (
            "**Trained on SIMULATED scenes.** Outputs show what the method does; they are not "
            "validated CRISM predictions."
            if simulated
            else "**Trained on real pairs** (as given at export with `--real`)."
        ),
        "",
        f"Exported with `marsspec export` by marsspec {entry.get('marsspec_version', '?')} on "
        f'{entry.get("created", "?")}; a user model, listed as "(yours)".',
        "",
        "## What it does",
        "",
        f"Predicts {len(bands)} band(s) — {band_text} — from "
        f"{'CTX and a DEM' if entry.get('in_channels', 1) == 2 else 'one CTX band'} by "
        f"{WHAT.get(entry['task'], entry['task'])}.",
        "",
        "## Architecture",
        "",
        f"- segmentation-models-pytorch `{kw.get('arch')}` with `{kw.get('encoder')}` encoder, "
        f"decoder channels {kw.get('decoder_channels')}, {entry.get('in_channels', 1)} input "
        f"channel(s) (architecture `{entry.get('architecture')}`).",
        f"- Weights: `{entry['weights']}`, {entry.get('dtype', 'float16')} safetensors, "
        f"{entry.get('size_bytes') or 0:,} bytes, sha256 `{entry['sha256']}`.",
    ]
    if entry.get("bins"):
        bins = entry["bins"]
        lines.append(
            f"- Bins: {bins.get('count')} per band, range {bins.get('range')}, spacing "
            f"{bins.get('spacing')}."
        )
    lines += ["", "## Inputs, outputs, units", ""]
    units = entry.get("target_units")
    if entry.get("target_stats"):
        stats = "; ".join(f"{m:.4g} ± {s:.4g}" for m, s in entry["target_stats"])
        lines.append(
            f"- Outputs in the training target's units ({units or 'as the target raster'}): "
            f"the training set's target statistics (mean ± std per band: {stats}) are stored "
            "with the model."
        )
    else:
        lines.append(
            "- Outputs in normalised units (image-wise z-score per band), as in training; give "
            "`--target-stats` or `--normalisation global` for reflectance-like values."
        )
    if entry.get("pixel_size_m"):
        lines.append(
            f"- Trained at {entry['pixel_size_m']:g} m/px: inputs more than 25 % off are "
            "resampled to it at prediction (or refused with `--no-rescale`)."
        )
    lines += [
        f"- Inference patches of {entry.get('patch_size')} px (trained on "
        f"{config.get('patch_size')} px patches; fully convolutional).",
        "",
        "## Training",
        "",
        f"- Task `{config.get('task')}`, loss `{config.get('loss')}`, batch "
        f"{config.get('batch_size')}, lr {config.get('lr')} ({config.get('schedule')} "
        f"schedule), patches of {config.get('patch_size')} px with >= "
        f"{float(config.get('min_valid', 0)):.0%} valid pixels.",
        f"- Scenes: {config.get('scenes')}; validation: {config.get('val_scenes') or 'none'}.",
        f"- Target wavelengths: {config.get('target_wavelengths_nm')} nm"
        + (
            f" (tolerance {config['wavelength_tolerance_nm']} nm)"
            if config.get("wavelength_tolerance_nm") is not None
            else ""
        )
        + ".",
    ]
    if steps is not None:
        run = f"- Run: {steps} steps"
        if minutes is not None:
            run += f" in {float(minutes) / 60:.1f} min"
        best = state.get("best")
        if isinstance(best, int | float) and math.isfinite(best):
            run += f"; best mean validation PCC {best:.4f}"
        lines.append(run + ".")
    lines.append(f"- Training data: {entry.get('training_data', '')}")
    metrics = entry.get("metrics") or {}
    history = state.get("history") or []
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    shown = metrics or {k: v for k, v in last.items() if k not in ("step", "loss", "minutes")}
    lines += ["", "## Evaluation", ""]
    if shown:
        source = "`--metrics` at export" if metrics else "last validation during training"
        lines += [f"From the {source}:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(shown.items())]
    else:
        lines.append(
            "No evaluation recorded: score it with `python -m marsspec eval spectra` and export "
            "again with `--metrics FILE --replace`."
        )
    lines += [
        "",
        "## Recipe",
        "",
        "1. Pairs: one folder per scene with `ctx.tif` (input) and `crism_target.tif` (the "
        "target bands on the input's grid, nodata outside the footprint).",
        "2. Config: `target_wavelengths_nm` lists the bands to predict; "
        "`wavelength_tolerance_nm` how far a target band may be from each.",
        "3. `python -m marsspec train --config my.yaml`, then `python -m marsspec export "
        "--checkpoint runs/<id>/best.pt --id <id>` (writes to your models folder).",
        "",
        f"Licence: {entry.get('licence', '')}.",
        "",
    ]
    return "\n".join(lines)
