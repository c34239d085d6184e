"""Shared by the GUI/inspector tests: a CTX-like Mars raster and a small real bin model.

The bin model is a real ``smp-spectral`` network (EfficientNet-B0 U-Net, random weights,
seeded) written with its own manifest in a temporary folder, so the inspector's core and
GUI can be tested before (and independently of) the bundled ``evc-bins20`` weights.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from marsspec.core.models.manifest import sha256_file
from tests.conftest import MARS_EQC, write_mars_raster

BANDS = [
    {"name": "R592", "wavelength_nm": 592.0, "units": "normalised"},
    {"name": "R533", "wavelength_nm": 533.0, "units": "normalised"},
    {"name": "R442", "wavelength_nm": 442.0, "units": "normalised"},
]


def ctx_raster(path: Path, size: tuple[int, int] = (300, 400), crs: str = MARS_EQC) -> Path:
    """A greyscale CTX-like float32 raster (smooth albedo pattern plus noise) in a Mars CRS."""
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    albedo = 0.09 + 0.03 * np.sin(rows / 23.0) * np.cos(cols / 31.0)
    data = (albedo + rng.normal(0, 0.004, size)).astype("float32")
    return write_mars_raster(path, data, crs=crs, nodata=-1.0)


def tiny_bin_model(folder: Path, model_id: str = "test-bins8", n_bins: int = 8) -> Path:
    """Write a seeded random bin model + manifest into ``folder``; returns the manifest path."""
    import torch
    from safetensors.torch import save_file

    from marsspec.core.models.spectral_net import build_spectral_net

    torch.manual_seed(0)
    kwargs = {
        "in_channels": 1,
        "n_bands": 3,
        "n_bins": n_bins,
        "decoder_channels": [32, 16, 8, 8, 8],
    }
    network = build_spectral_net(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{model_id}.safetensors"
    state = {k: v.detach().half().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(weights))
    entry = {
        "id": model_id,
        "title": "Test bin model (random weights)",
        "task": "spectra-bins",
        "product": "evc",
        "architecture": "smp-spectral",
        "architecture_kwargs": kwargs,
        "in_channels": 1,
        "out_channels": 3 * n_bins,
        "patch_size": 128,
        "bands": BANDS,
        "bins": {"count": n_bins, "range": 6.0, "spacing": "uniform"},
        "normalisation": {"mode": "image"},
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "simulated": True,
    }
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": [entry]}), encoding="utf-8")
    return manifest


def model_choice(algorithm_id: str, model_id: str):
    """The MODEL value that selects ``model_id``: the id itself (MODEL stores model ids)."""
    from qgis.core import QgsApplication

    definition = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    definition = definition.parameterDefinition("MODEL")
    assert definition is None or model_id in definition.options(), model_id
    return model_id


def fast_cpu(algorithm_id: str) -> dict:
    """DEVICE=cpu and PRECISION=fp32 (no bf16 timing probe): quick, reproducible test runs."""
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    values = {}
    for name, option in (("DEVICE", "cpu"), ("PRECISION", "fp32")):
        definition = algorithm.parameterDefinition(name)
        if definition is not None and option in definition.options():
            values[name] = option
    return values


@contextlib.contextmanager
def provider_with_manifest(provider, manifest: Path):
    """The provider's algorithms rebuilt as if ``manifest`` were the bundled one (their MODEL
    lists are read when they are made); the bundled manifest and algorithms come back after."""
    from marsspec.core.models import manifest as manifest_module

    bundled = manifest_module.MANIFEST_PATH
    manifest_module.MANIFEST_PATH = Path(manifest)
    try:
        provider.refreshAlgorithms()
        yield provider
    finally:
        manifest_module.MANIFEST_PATH = bundled
        provider.refreshAlgorithms()
