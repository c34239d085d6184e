"""Export a trained MARSGAN generator: fp16 safetensors, a manifest entry and its card, in your
models folder (core/models/locations.py) or ``--models-dir``; never the bundled ``models/``.

    python -m marsspec.training.superres.export --checkpoint runs/my-sr/best.pt \
        --id my-sr --flavour psnr [--metrics-json eval.json] [--replace]

(`marsspec export --checkpoint CKPT --flavour psnr|gan` runs the same.) fp16 halves the file;
the manifest loader restores float32 for inference. The entry carries ``sr_flavour``/
``sr_pair`` so that FIDELITY can interpolate the PSNR and GAN generators. An id that exists in
the folder needs ``--replace``; a bundled model's id is refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from marsspec.core.errors import InputError, MarsspecError
from marsspec.core.io.safety import OutputSet
from marsspec.core.models import locations
from marsspec.core.models.manifest import sha256_file
from marsspec.core.models.marsgan import build_generator, count_parameters
from marsspec.core.models.weight_format import FORMAT_FP16, save_weights
from marsspec.core.version import __version__
from marsspec.training.checkpoints import (
    RunFolder,
    check_export_target,
    first_line,
    load_checkpoint,
    stage_manifest_entry,
)

TRAINING_DATA = (
    "SIMULATED HiRISE-like scenes from the marsspec simulator (core/simulator, 0.75 m/px, "
    "52 scenes of 512 px), synthetic slanted step edges (15-50 % of the crops, see Training; "
    "the edge factor is measured on edges of this kind, drawn afresh), and the REAL HiRISE "
    "colour browse strip ESP_011472_1225 from ../shared/data (greyscale, rows 0-80 %; "
    "NASA/JPL/UArizona). "
    "LR = Gaussian blur (sigma 1.2 HR px) + bicubic x4 (paper 002 §2.4). No real CaSSIS-HiRISE "
    "pair was used: none is available here."
)
TITLES = {
    "psnr": "MARSGAN x4 super-resolution, PSNR-oriented (L1)",
    "gan": "MARSGAN x4 super-resolution, GAN stage (RaGAN)",
}


def checkpoint_generator(checkpoint: str | os.PathLike[str]) -> tuple[torch.nn.Module, dict]:
    """(generator, checkpoint dict) of a training checkpoint; the EMA weights when it kept them
    (BasicSR's practice: the averaged weights generalise better than the last step's)."""
    instead = "pass a runs/<id>/last.pt or best.pt written by `marsspec train` (task superres)"
    state = load_checkpoint(checkpoint, what="--checkpoint", instead=instead)
    if state.get("task") != "superres":
        raise InputError(
            f"--checkpoint {str(checkpoint)!r} is not a super-resolution checkpoint; {instead} "
            "(spectral checkpoints export with `marsspec export`)."
        )
    try:
        network = build_generator(**dict(state["generator_kwargs"]))
        network.load_state_dict(state.get("generator_ema") or state["generator"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise InputError(
            f"--checkpoint {str(checkpoint)!r} is damaged or from another marsspec version "
            f"({type(exc).__name__}: {first_line(exc)}); {instead}."
        ) from exc
    return network, state


def export_generator(
    checkpoint: str | os.PathLike[str],
    model_id: str,
    *,
    flavour: str,
    pair: str = "marsgan",
    metrics: dict | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    manifest_path: str | os.PathLike[str] | None = None,
    card_text: str | Callable[[dict], str] | None = None,
    replace: bool = False,
    weights_format: str = FORMAT_FP16,
) -> dict:
    """Write ``<models_dir>/<id>.safetensors`` (fp16, or int8 per channel with
    ``weights_format``: :mod:`marsspec.core.models.weight_format`), upsert the manifest entry
    and write the card (``card_text``, or a function of the entry; default: the standard
    card): all staged and published together, none of them the checkpoint itself.
    ``models_dir`` defaults to your models folder, ``manifest_path`` to its ``manifest.json``;
    the bundled ``models/`` is refused, and so is an id that exists there (``replace``
    overwrites it) or is bundled."""
    from marsspec.training.superres.card import model_card

    if flavour not in TITLES:
        raise InputError(f"flavour {flavour!r} must be 'psnr' or 'gan'.")
    models_dir = Path(models_dir) if models_dir else locations.user_models_dir()
    check_export_target(models_dir, model_id, replace=replace)
    network, state = checkpoint_generator(checkpoint)
    weights = models_dir / f"{model_id}.safetensors"
    manifest = Path(manifest_path) if manifest_path else models_dir / locations.MANIFEST_NAME
    card = models_dir / f"{model_id}.md"
    if card_text is None:
        card_text = lambda entry: model_card(entry, entry.get("metrics") or {})  # noqa: E731
    folder = RunFolder(models_dir, key="models_dir")  # made if missing, removed on failure
    with folder:
        folder.ensure()
        files = OutputSet(
            {"weights": weights, "manifest": manifest, "card": card},
            inputs=[checkpoint],
            kinds={"weights": "weights", "manifest": "json", "card": "text"},
        )
        with files:
            staged = files.temp("weights")
            dtype = save_weights(
                network.state_dict(), staged, f"{model_id} superres", fmt=weights_format
            )
            entry = _entry(model_id, flavour, pair, network, state, staged, metrics)
            entry["dtype"] = dtype
            stage_manifest_entry(entry, manifest, files.temp("manifest"))
            text = card_text(entry) if callable(card_text) else card_text
            files.temp("card").write_text(text, encoding="utf-8")
    for published in (weights, card):
        published.chmod(0o644)  # the plugin zip needs them readable
    return entry


REAL_CROPS_DATA = (
    " Also REAL HiRISE RED crops of the TRAIN observations of "
    "training/splits/hirise_deeplandforms.txt (../shared/data/hirise_deeplandforms; 900 px "
    "reduced 'print' JPEG products; NASA/JPL/UArizona), about half of the crops drawn."
)
MIX_DATA = (
    " LR of {share} of the crops drawn from a random mix instead (PSF width 0-1.8 HR px, "
    "antialiased or aliased bicubic /4, Gaussian and Poisson-like noise, JPEG 60-95, column "
    "stripes, sub-pixel shifts: training/superres/degrade.py)."
)


def training_data(cfg: dict) -> str:
    """What the run trained on, from its config (real crops and the LR mix when it used them)."""
    text = TRAINING_DATA
    if cfg.get("real_crops"):
        text += REAL_CROPS_DATA
        if cfg["real_crops"].get("clean_impulses"):
            text += " Isolated outlier pixels of those crops replaced by their 3x3 median."
    if cfg.get("degradation") == "mix":
        paper = float(cfg.get("paper_fraction") or 0.0)
        text += MIX_DATA.format(share=f"{round(100 * (1 - paper))} %" if paper else "all")
    return text


def _entry(
    model_id: str,
    flavour: str,
    pair: str,
    network: torch.nn.Module,
    state: dict,
    weights: Path,
    metrics: dict | None,
) -> dict:
    """The manifest entry of exported weights (``weights``: the file as written, not yet
    renamed: the entry names the final file)."""
    kwargs = dict(state["generator_kwargs"])
    cfg = state.get("config", {})
    parent = state.get("fine_tuned_from") or {}  # recorded by training when it started
    steps, minutes = int(state.get("step", 0)), float(state.get("elapsed", 0.0)) / 60
    return {
        "id": model_id,
        "title": TITLES[flavour],
        "task": "superres",
        "product": "any",
        "architecture": "marsgan-generator",
        "architecture_kwargs": kwargs,
        "in_channels": 1,
        "out_channels": 1,
        "scale": 4,
        "patch_size": 128,
        "default_stride_factor": 2,
        "bands": [
            {
                "name": "brightness (any band, or V of HSV)",
                "wavelength_nm": None,
                "units": "input units",
            }
        ],
        "bins": None,
        "normalisation": {"method": "robust-affine", "low_percent": 0.5, "high_percent": 99.5},
        "weights": f"{model_id}.safetensors",
        "sha256": sha256_file(weights),
        "size_bytes": weights.stat().st_size,
        "dtype": "float16",
        "licence": "GPL-2.0-or-later (weights trained by marsspec)",
        "training_data": training_data(cfg),
        "simulated": True,
        # scale-free: crops of mixed, partly undefined pixel sizes, a degradation defined in
        # pixels; inputs are never rescaled (core/tiling/rescale.py)
        "pixel_size_m": None,
        "metrics": metrics or {},
        "card": f"{model_id}.md",
        "created": dt.date.today().isoformat(),
        "marsspec_version": __version__,
        "parameters": count_parameters(network),
        # Whole lineage: a fine-tune of a bundled model adds to that model's training.
        "training_steps": steps + int(parent.get("training_steps") or 0),
        "training_minutes": round(minutes + float(parent.get("training_minutes") or 0.0), 1),
        "fine_tuned_from": parent or None,
        "training_stage": cfg.get("stage", flavour),
        "sr_flavour": flavour,
        "sr_pair": pair,
        "paper": "Tao et al. 2021, Remote Sensing 13, 1777 (MARSGAN)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--flavour", choices=sorted(TITLES), required=True)
    parser.add_argument("--pair", default="marsgan")
    parser.add_argument("--metrics-json", help="JSON dict of metrics to record in the entry")
    parser.add_argument("--models-dir", default=None, help="default: your models folder")
    parser.add_argument("--replace", action="store_true", help="overwrite your model of this id")
    args = parser.parse_args(argv)
    try:
        entry = export_generator(
            args.checkpoint,
            args.id,
            flavour=args.flavour,
            pair=args.pair,
            metrics=_read_metrics(args.metrics_json),
            models_dir=args.models_dir,
            replace=args.replace,
        )
    except MarsspecError as error:  # one line, as `marsspec` prints it
        print(f"marsspec export: error: {error}", file=sys.stderr)
        return 1
    print(
        f"exported {entry['id']}: {entry['weights']} {entry['size_bytes']} bytes, "
        f"{entry['parameters']} parameters, sha256 {entry['sha256'][:12]}"
    )
    return 0


def _read_metrics(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"--metrics-json {path!r} cannot be read as JSON ({first_line(exc)}); give the "
            "file `marsspec eval sr --json` wrote."
        ) from exc
    if not isinstance(metrics, dict):
        raise InputError(f"--metrics-json {path!r} must hold a JSON object of metrics.")
    return metrics


if __name__ == "__main__":
    raise SystemExit(main())
