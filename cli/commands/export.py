"""`marsspec export --checkpoint best.pt`: fp16 safetensors in models/ + a manifest entry.

The checkpoint (written by `marsspec train`) carries its config, so the manifest entry (task,
product, bands, architecture and kwargs, bins, normalisation) is derived from it, not retyped.
Metrics printed by `marsspec eval` (key=value lines) can be attached with ``--metrics``.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from marsspec.core.errors import InputError

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
    parser.add_argument("--models-dir", default=None, help="default: the plugin's models/")
    parser.add_argument("--metrics", default=None, help="file of key=value lines (marsspec eval)")
    parser.add_argument("--patch-size", type=int, default=256, help="inference patch edge d")
    parser.add_argument("--licence", default="GPL-2.0-or-later (same as marsspec)")
    parser.add_argument(
        "--training-data", default=None, help="text for the manifest (default: from the config)"
    )
    parser.add_argument("--real", action="store_true", help="trained on real pairs, not simulated")


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


def manifest_entry(config: dict, args, weights: Path, sha: str, size: int) -> dict:
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
            {
                "name": BAND_NAMES.get(lam, f"band {lam:g}"),
                "wavelength_nm": lam,
                "units": "normalised (image-wise z-score)",
            }
            for lam in lams
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
    }


CHECKPOINT_HINT = "pass the runs/<id>/best.pt (or last.pt) that `marsspec train` wrote"


def _outputs(models_dir: Path, model_id: str, checkpoint: Path, metrics: str | None):
    """The export's files, checked before writing (neither the checkpoint nor the metrics
    file is ever an output), to be staged and published together: the manifest never
    describes weights that are not there."""
    from marsspec.core.io.safety import OutputSet

    if not model_id or model_id.startswith(".") or "/" in model_id or "\\" in model_id:
        raise InputError(
            f"Model id {model_id!r} must be a plain name (letters, digits, -); give --id."
        )
    return OutputSet(
        {
            "weights": models_dir / f"{model_id}.safetensors",
            "manifest": models_dir / "manifest.json",
        },
        inputs=[checkpoint, metrics],
        kinds={"weights": "weights", "manifest": "json"},
    )


def run(args: argparse.Namespace) -> int:
    from safetensors.torch import save_file

    from marsspec.core.models.manifest import MODELS_DIR, sha256_file
    from marsspec.training.checkpoints import load_checkpoint, stage_manifest_entry

    path = Path(args.checkpoint)
    models_dir = Path(args.models_dir) if args.models_dir else MODELS_DIR
    if args.id:  # the outputs are known: refuse one that is the checkpoint before reading it
        _outputs(models_dir, str(args.id), path, args.metrics)
    if path.suffix == ".safetensors":
        raise InputError(
            f"--checkpoint {str(path)!r} is exported weights, not a training checkpoint; "
            f"{CHECKPOINT_HINT}."
        )
    state = load_checkpoint(path, what="--checkpoint", instead=CHECKPOINT_HINT)
    if "model" not in state or not isinstance(state.get("config"), dict):
        raise InputError(
            f"--checkpoint {str(path)!r} is not a marsspec training checkpoint (no model and "
            f"config); {CHECKPOINT_HINT}."
        )
    config = state["config"]
    if not str(config.get("task", "")).startswith("spectra"):
        raise InputError(
            "This checkpoint is not a spectral model; export a super-resolution generator with "
            "`python -m marsspec.training.superres.export --checkpoint CKPT --id ID "
            "--flavour psnr|gan`."
        )
    model_id = str(args.id or config.get("id") or "")
    files = _outputs(models_dir, model_id, path, args.metrics)
    weights, manifest = files.finals["weights"], files.finals["manifest"]
    tensors = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in state["model"].items()
    }
    with files:
        temp = files.temp("weights")
        # one metadata key: safetensors writes several in hash order, which changes the sha256
        save_file(tensors, str(temp), metadata={"marsspec": f"{model_id} {config['task']}"})
        try:
            entry = manifest_entry(config, args, weights, sha256_file(temp), temp.stat().st_size)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"--checkpoint {str(path)!r} has an incomplete config ({type(exc).__name__}: "
                f"{exc}); {CHECKPOINT_HINT}."
            ) from exc
        stage_manifest_entry(entry, manifest, files.temp("manifest"))
    weights.chmod(0o644)  # the plugin zip needs it readable
    print(
        f"exported={model_id} weights={weights} size_bytes={weights.stat().st_size} "
        f"manifest={manifest}"
    )
    return 0
