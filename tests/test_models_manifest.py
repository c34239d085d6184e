"""models/manifest.json is valid, and the manifest machinery verifies and loads weights."""

from __future__ import annotations

import json

import pytest

from marsspec.core.errors import ModelIntegrityError, ModelNotFoundError
from marsspec.core.models.manifest import (
    ARCHITECTURES,
    load_manifest,
    sha256_file,
    upsert_manifest_entry,
)
from tests.conftest import REPO_ROOT


def test_bundled_manifest_parses_and_files_exist():
    raw = json.loads((REPO_ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1
    manifest = load_manifest()
    assert len(manifest.entries) == len(raw["models"])
    for entry in manifest.entries:
        assert entry.architecture in ARCHITECTURES, entry.id
        assert entry.card_path is not None and entry.card_path.is_file(), entry.id
        assert entry.verify() == entry.weights_path  # sha256 matches the committed file
        assert entry.size_bytes == entry.weights_path.stat().st_size, entry.id


@pytest.fixture()
def linear_model(tmp_path, monkeypatch):
    """A real torch Linear saved as fp16 safetensors and described in a temporary manifest."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    monkeypatch.setitem(ARCHITECTURES, "test-linear", "torch.nn:Linear")
    torch.manual_seed(0)
    reference = torch.nn.Linear(4, 2)
    weights = tmp_path / "lin.safetensors"
    save_file({k: v.half() for k, v in reference.state_dict().items()}, str(weights))
    entry = {
        "id": "lin",
        "task": "spectra-regression",
        "architecture": "test-linear",
        "architecture_kwargs": {"in_features": 4, "out_features": 2},
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "card": "lin.md",
    }
    manifest_path = tmp_path / "manifest.json"
    upsert_manifest_entry(entry, manifest_path)
    return reference, manifest_path, weights


def test_build_loads_verified_weights(linear_model):
    import torch

    reference, manifest_path, _ = linear_model
    model = load_manifest(manifest_path).get("lin").build("cpu")
    x = torch.randn(3, 4)
    # fp16 storage: equal to the reference within half precision
    assert torch.allclose(model(x), reference(x), atol=2e-3)
    assert not model.training


def test_changed_weights_are_refused(linear_model):
    _, manifest_path, weights = linear_model
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelIntegrityError, match="corrupt or was changed"):
        load_manifest(manifest_path).get("lin").build("cpu")


def test_upsert_replaces_by_id_and_unknown_id_lists_available(linear_model):
    _, manifest_path, _ = linear_model
    entry = load_manifest(manifest_path).get("lin").to_dict()
    upsert_manifest_entry({**entry, "title": "Renamed"}, manifest_path)
    manifest = load_manifest(manifest_path)
    assert manifest.ids() == ("lin",) and manifest.get("lin").title == "Renamed"
    with pytest.raises(ModelNotFoundError, match="available: lin"):
        manifest.get("nope")


def test_eval_dispatcher_rejects_unknown_name(capsys):
    from marsspec.cli.main import main

    assert main(["eval", "nonsense"]) == 1
    assert "Unknown evaluation 'nonsense'" in capsys.readouterr().err
