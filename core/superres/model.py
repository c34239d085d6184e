"""Which generator runs: a manifest model, or the ESRGAN interpolation of a PSNR/GAN pair.

Super-resolution entries name their flavour and pair in the manifest (``sr_flavour``:
``psnr``/``gan``, ``sr_pair``: a shared name). FIDELITY f in [0, 1] blends the pair's weights
``f * PSNR + (1 - f) * GAN`` (paper 002 §4.1): 1 = no synthetic texture, 0 = the GAN's.
"""

from __future__ import annotations

from dataclasses import dataclass

from marsspec.core.errors import InputError
from marsspec.core.models.manifest import ModelEntry, load_manifest

DEFAULT_MODEL = "marsgan-psnr"


@dataclass(frozen=True)
class LoadedGenerator:
    network: object  # torch.nn.Module (eval mode)
    model_id: str
    weights_sha256: str
    fidelity: float | None
    entry: ModelEntry


def _pair(entry: ModelEntry, entries: tuple[ModelEntry, ...]) -> tuple[ModelEntry, ModelEntry]:
    pair = entry.extra.get("sr_pair")
    members = {
        e.extra.get("sr_flavour"): e for e in entries if pair and e.extra.get("sr_pair") == pair
    }
    if "psnr" not in members or "gan" not in members:
        raise InputError(
            f"Model {entry.id!r} has no PSNR/GAN partner in the manifest, so FIDELITY cannot "
            "interpolate; leave FIDELITY empty or choose marsgan-psnr / marsgan-gan."
        )
    return members["psnr"], members["gan"]


def load_generator(
    model_id: str = DEFAULT_MODEL,
    fidelity: float | None = None,
    *,
    manifest_path: str | None = None,
    device: str = "cpu",
    noise: bool = False,
) -> LoadedGenerator:
    """Build the generator (weights verified by sha256), interpolated if ``fidelity`` is set."""
    manifest = load_manifest(manifest_path)
    entry = manifest.get(model_id)
    if entry.task != "superres" or entry.scale != 4:
        raise InputError(
            f"Model {model_id!r} is a {entry.task!r} model, not a 4x super-resolution one; "
            f"choose one of {', '.join(e.id for e in manifest.by_task('superres')) or 'none'}."
        )
    if fidelity is None:
        network = entry.build(device)
        sha = entry.sha256
        label = entry.id
    else:
        from marsspec.core.models.marsgan import interpolate_state_dicts

        psnr, gan = _pair(entry, manifest.entries)
        if psnr.architecture_kwargs != gan.architecture_kwargs:
            raise InputError(
                f"{psnr.id} and {gan.id} differ in architecture; they cannot be interpolated."
            )
        network = psnr.build(device, load_weights=False)
        state = interpolate_state_dicts(psnr.load_state_dict(), gan.load_state_dict(), fidelity)
        network.load_state_dict(state)
        network = network.to(device).eval()
        sha = f"{psnr.sha256},{gan.sha256}"
        label = f"{psnr.id}+{gan.id}@fidelity={float(fidelity):g}"
    if hasattr(network, "set_noise"):
        network.set_noise(noise)
    return LoadedGenerator(network, label, sha, fidelity, entry)
