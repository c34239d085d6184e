"""`marsspec export --checkpoint best.pt`: weights (fp16 or int8), a model card, a manifest entry
in your models folder (core/models/locations.py; ``--models-dir`` for another).

The checkpoint (written by `marsspec train`) carries its config, so the manifest entry (task,
product, bands, architecture and kwargs, bins, normalisation, and the training target's
statistics, units and band names when training recorded them) is derived from it, not retyped.
Metrics printed by `marsspec eval` (key=value lines) can be attached with ``--metrics``. The
plugin's bundled ``models/`` is never written; an id that exists needs ``--replace``, a bundled
id is refused. Weights, card and manifest are published together (one OutputSet).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from marsspec.core.errors import InputError
from marsspec.core.models.weight_format import FORMAT_FP16, FORMAT_INT8

BAND_NAMES = {
    592.0: "EVC R",
    533.0: "EVC G",
    442.0: "EVC B",
    2503.0: "FC R",
    1500.0: "FC G",
    1080.0: "FC B",
}

TITLES = {"spectra-regression": "regression", "spectra-bins": "bin classification"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="best.pt / last.pt from training")
    parser.add_argument("--id", default=None, help="model id (default: the config's id)")
    parser.add_argument(
        "--models-dir",
        default=None,
        help="where to export (default: your models folder, $MARSSPEC_MODELS_DIR or the "
        "platform's data folder; never the plugin's bundled models/)",
    )
    parser.add_argument(
        "--replace", action="store_true", help="overwrite your model of the same id"
    )
    parser.add_argument("--metrics", default=None, help="file of key=value lines (marsspec eval)")
    parser.add_argument("--patch-size", type=int, default=256, help="inference patch edge d")
    parser.add_argument("--licence", default="GPL-2.0-or-later (same as marsspec)")
    parser.add_argument(
        "--training-data", default=None, help="text for the manifest (default: from the config)"
    )
    parser.add_argument("--real", action="store_true", help="trained on real pairs, not simulated")
    parser.add_argument(
        "--pixel-size",
        type=float,
        default=None,
        help="metres per pixel of the training inputs (default: the simulator's 6 m, else the "
        "first training scene's CRS); inputs more than 25 %% off are resampled to it",
    )
    parser.add_argument(
        "--flavour",
        choices=("psnr", "gan"),
        default=None,
        help="super-resolution checkpoints: the generator's flavour (default: its stage)",
    )
    parser.add_argument(
        "--pair", default=None, help="super-resolution: the PSNR/GAN pair name (default: the id)"
    )
    parser.add_argument(
        "--weights-format",
        choices=(FORMAT_FP16, FORMAT_INT8),
        default=FORMAT_FP16,
        help="float16 (default) or int8-per-channel: large weights as int8 with one scale per "
        "output channel, about half the file; measure the cost with `marsspec eval` first",
    )


def read_metrics(path: str | None) -> dict:
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise InputError(
            f"--metrics {path!r} cannot be read ({getattr(exc, 'strerror', None) or exc}); give "
            "the key=value file `marsspec eval` printed, or leave --metrics out."
        ) from exc
    out: dict = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def target_fields(target: dict | None, n_bands: int) -> dict:
    """The manifest keys of a checkpoint's ``target`` record (training's target statistics,
    units, band names and wavelengths): ``target_stats``, ``target_units``, ``band_names``,
    ``target_wavelengths_nm``, each only when present and one per band."""
    if not isinstance(target, dict):
        return {}
    out: dict = {}
    stats = target.get("stats")
    if stats and len(stats) == n_bands:
        out["target_stats"] = [[float(m), float(s)] for m, s in stats]
    if target.get("units"):
        out["target_units"] = str(target["units"])
    names = target.get("band_names")
    if names and len(names) == n_bands:
        out["band_names"] = [str(n) for n in names]
    lams = target.get("wavelengths_nm")
    if lams and len(lams) == n_bands and all(v is not None for v in lams):
        out["target_wavelengths_nm"] = [float(v) for v in lams]
    return out


def manifest_entry(
    config: dict, args, weights: Path, sha: str, size: int, target: dict | None = None
) -> dict:
    from marsspec.core.version import __version__

    task = config["task"]
    lams = [float(v) for v in config["target_wavelengths_nm"]]
    in_channels = 2 if config.get("dem_name") else 1
    kwargs = {
        "in_channels": in_channels,
        "n_bands": len(lams),
        "n_bins": int(config["bins"]["count"]) if task == "spectra-bins" else None,
        "arch": config["arch"],
        "encoder": config["encoder"],
        "decoder_channels": list(config["decoder_channels"]),
    }
    model_id = args.id or config["id"]
    simulated = not args.real
    recorded = target_fields(target, len(lams))
    names = recorded.get("band_names") or [BAND_NAMES.get(lam, f"band {lam:g}") for lam in lams]
    lams_out = recorded.get("target_wavelengths_nm") or lams
    training = args.training_data or (
        f"{'SIMULATED' if simulated else 'Real'} scenes: {config.get('scenes')} "
        f"(patches {config['patch_size']} px, >= {config['min_valid']:.0%} valid)"
    )
    return {
        "id": model_id,
        "title": f"{config['product'].upper()} {TITLES.get(task, task)}",
        "task": task,
        "product": config["product"],
        "architecture": "smp-spectral",
        "architecture_kwargs": kwargs,
        "in_channels": in_channels,
        "out_channels": len(lams) * (kwargs["n_bins"] or 1),
        "scale": 1,
        "patch_size": args.patch_size,
        "default_stride_factor": 2,
        "bands": [
            {"name": name, "wavelength_nm": lam, "units": "normalised (image-wise z-score)"}
            for name, lam in zip(names, lams_out, strict=True)
        ],
        "bins": dict(config["bins"]) if task == "spectra-bins" else None,
        "normalisation": {
            "default": "image",
            "modes": ["image", "global", "patch"],
            "clip_percent": config.get("clip_percent", 0.01),
            "output": "z-score",
            "global_table": "paper 000 Table A1",
        },
        "weights": weights.name,
        "sha256": sha,
        "size_bytes": size,
        "dtype": "float16",
        "licence": args.licence,
        "training_data": training,
        "simulated": simulated,
        "metrics": read_metrics(args.metrics),
        "card": f"{model_id}.md",
        "created": datetime.date.today().isoformat(),
        "marsspec_version": __version__,
        "training_patch_size": config["patch_size"],
        "pixel_size_m": training_pixel_size(config, getattr(args, "pixel_size", None)),
        # where the training pairs were, so `eval spectra --data` can fit its linear baseline
        # on them when they still exist on this machine
        "training_scenes": [
            str(Path(p).expanduser().absolute()) for p in config.get("scenes") or ()
        ],
        **recorded,
    }


def training_pixel_size(config: dict, given: float | None = None) -> float | None:
    """The pixel size (m) the model was trained at: ``--pixel-size``, else the simulator's CTX
    pixel for simulated scenes, else the first training scene's input (``input_name``) when
    it has a CRS; None (no pixel size check at prediction) when none is known."""
    import glob

    if given is not None:
        if not given > 0:
            raise InputError(f"--pixel-size {given!r} must be a positive number of metres.")
        return float(given)
    if config.get("simulate"):
        from marsspec.core.simulator import SceneConfig

        return float(config["simulate"].get("ctx_pixel_m", SceneConfig.ctx_pixel_m))
    from marsspec.core.errors import MarsspecError
    from marsspec.core.tiling.rescale import input_pixel_size

    for pattern in config.get("scenes") or ():
        for folder in sorted(glob.glob(str(pattern))):
            candidate = Path(folder) / str(config.get("input_name") or "ctx.tif")
            if candidate.is_file():
                try:
                    size = input_pixel_size(candidate)
                except MarsspecError:
                    return None
                return round((size[0] * size[1]) ** 0.5, 6) if size else None
    return None


CHECKPOINT_HINT = "pass the runs/<id>/best.pt (or last.pt) that `marsspec train` wrote"


def _outputs(models_dir: Path, model_id: str, checkpoint: Path, metrics: str | None):
    """The export's files (weights, card, manifest), checked before writing (neither the
    checkpoint nor the metrics file is ever an output), to be staged and published together:
    the manifest never describes weights or a card that are not there."""
    from marsspec.core.io.safety import OutputSet

    if not model_id or model_id.startswith(".") or "/" in model_id or "\\" in model_id:
        raise InputError(
            f"Model id {model_id!r} must be a plain name (letters, digits, -); give --id."
        )
    return OutputSet(
        {
            "weights": models_dir / f"{model_id}.safetensors",
            "card": models_dir / f"{model_id}.md",
            "manifest": models_dir / "manifest.json",
        },
        inputs=[checkpoint, metrics],
        kinds={"weights": "weights", "card": "text", "manifest": "json"},
    )


def run(args: argparse.Namespace) -> int:
    from marsspec.core.models import locations
    from marsspec.training.checkpoints import RunFolder

    path = Path(args.checkpoint)
    default = not args.models_dir
    models_dir = locations.user_models_dir() if default else Path(args.models_dir)
    # your models folder is made when missing (and removed again if the export fails)
    with RunFolder(models_dir, key="--models-dir") as folder:
        if default:
            folder.ensure()
        return _export(args, path, models_dir)


def _export(args: argparse.Namespace, path: Path, models_dir: Path) -> int:
    from marsspec.core.models.manifest import sha256_file
    from marsspec.core.models.weight_format import save_weights
    from marsspec.training.checkpoints import (
        check_export_target,
        load_checkpoint,
        stage_manifest_entry,
    )
    from marsspec.training.spectra.card import model_card

    replace = bool(getattr(args, "replace", False))
    if args.id:  # the outputs are known: refuse one that is the checkpoint before reading it
        _outputs(models_dir, str(args.id), path, args.metrics)
        check_export_target(models_dir, str(args.id), replace=replace)
    if path.suffix == ".safetensors":
        raise InputError(
            f"--checkpoint {str(path)!r} is exported weights, not a training checkpoint; "
            f"{CHECKPOINT_HINT}."
        )
    state = load_checkpoint(path, what="--checkpoint", instead=CHECKPOINT_HINT)
    if state.get("task") == "superres":
        return _export_superres(args, path, models_dir, state, replace)
    if "model" not in state or not isinstance(state.get("config"), dict):
        raise InputError(
            f"--checkpoint {str(path)!r} is not a marsspec training checkpoint (no model and "
            f"config); {CHECKPOINT_HINT}."
        )
    config = state["config"]
    if not str(config.get("task", "")).startswith("spectra"):
        raise InputError(
            f"--checkpoint {str(path)!r} is neither a spectral nor a super-resolution model "
            f"(task {config.get('task')!r}); {CHECKPOINT_HINT}."
        )
    model_id = str(args.id or config.get("id") or "")
    files = _outputs(models_dir, model_id, path, args.metrics)
    check_export_target(models_dir, model_id, replace=replace)
    weights, manifest = files.finals["weights"], files.finals["manifest"]
    with files:
        temp = files.temp("weights")
        dtype = save_weights(
            state["model"],
            temp,
            f"{model_id} {config['task']}",
            fmt=getattr(args, "weights_format", FORMAT_FP16),
        )
        try:
            entry = manifest_entry(
                config,
                args,
                weights,
                sha256_file(temp),
                temp.stat().st_size,
                target=state.get("target"),
            )
            entry["dtype"] = dtype
            card = model_card(entry, config, state)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"--checkpoint {str(path)!r} has an incomplete config ({type(exc).__name__}: "
                f"{exc}); {CHECKPOINT_HINT}."
            ) from exc
        files.temp("card").write_text(card, encoding="utf-8")
        stage_manifest_entry(entry, manifest, files.temp("manifest"))
    for published in (weights, files.finals["card"]):
        published.chmod(0o644)  # the plugin zip needs it readable
    print(
        f"exported={model_id} weights={weights} size_bytes={weights.stat().st_size} "
        f"card={files.finals['card']} manifest={manifest}"
    )
    return 0


def _export_superres(
    args: argparse.Namespace, path: Path, models_dir: Path, state: dict, replace: bool
) -> int:
    """A MARSGAN generator checkpoint: the same files and rules, through
    training/superres/export.py (its card from training/superres/card.py)."""
    from marsspec.training.superres.export import export_generator

    config = state.get("config") or {}
    model_id = str(args.id or config.get("id") or "")
    flavour = args.flavour or str(config.get("stage") or "psnr")
    _outputs(models_dir, model_id, path, args.metrics)
    entry = export_generator(
        path,
        model_id,
        flavour=flavour,
        pair=args.pair or model_id,
        metrics=read_metrics(args.metrics),
        models_dir=models_dir,
        replace=replace,
        weights_format=getattr(args, "weights_format", FORMAT_FP16),
    )
    weights = models_dir / entry["weights"]
    print(
        f"exported={model_id} weights={weights} size_bytes={entry['size_bytes']} "
        f"card={models_dir / entry['card']} manifest={models_dir / 'manifest.json'}"
    )
    return 0
