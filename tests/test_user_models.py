"""User models live outside the plugin: `export` writes to the user models folder
($MARSSPEC_MODELS_DIR here), with its card, never into the bundled models/; every model list
offers the bundled models and the user's together, each marked as which."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
import torch
import yaml

from marsspec.cli.main import main as cli_main
from marsspec.core import options
from marsspec.core.errors import InputError, ModelNotFoundError
from marsspec.core.models import locations
from marsspec.core.models.manifest import MANIFEST_PATH, MODELS_DIR, load_manifest


def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (names relative), to prove nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny spectral checkpoint trained for two steps through the CLI, with the training
    target's record that training stores (statistics, units, band names, wavelengths)."""
    from marsspec.core.simulator import SceneConfig, simulate_scene

    root = tmp_path_factory.mktemp("train")
    simulate_scene(
        SceneConfig(seed=3, size=128, site="gale", products=("ctx", "crism")), root / "s/a"
    )
    config = {
        "id": "my-evc",
        "task": "spectra-regression",
        "out_dir": str(root / "run"),
        "scenes": [str(root / "s/*")],
        "val_scenes": [str(root / "s/*")],
        "patch_size": 64,
        "batch_size": 2,
        "max_steps": 2,
        "val_every": 2,
        "precision": "fp32",
        "decoder_channels": [32, 16, 16, 8, 8],
    }
    path = root / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli_main(["train", "--config", str(path)]) == 0
    checkpoint = root / "run" / "best.pt"
    state = torch.load(checkpoint, weights_only=False)
    state["target"] = {  # as training records it; fixed values to check them in the entry
        **state.get("target", {}),
        "stats": [[0.2, 0.05], [0.18, 0.04], [0.15, 0.03]],
        "units": "I/F",
        "band_names": ["R592", "R533", "R442"],
        "wavelengths_nm": [592.0, 533.0, 442.0],
    }
    torch.save(state, checkpoint)
    return checkpoint


@pytest.fixture()
def user_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "my-models"  # not made: export makes it
    monkeypatch.setenv(locations.ENV_VAR, str(folder))
    return folder


def export(*args: str) -> int:
    return cli_main(["export", *args])


def test_locations_env_profile_and_platform(tmp_path, monkeypatch):
    monkeypatch.setenv(locations.ENV_VAR, str(tmp_path / "env"))
    assert locations.user_models_dirs() == (tmp_path / "env",)
    monkeypatch.delenv(locations.ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    try:
        locations.set_profile_models_dir(tmp_path / "profile" / "marsspec" / "models")
        assert locations.user_models_dirs() == (
            tmp_path / "profile" / "marsspec" / "models",
            tmp_path / "xdg" / "marsspec" / "models",
        )
    finally:
        locations.set_profile_models_dir(None)
    assert locations.user_models_dir() == tmp_path / "xdg" / "marsspec" / "models"
    home = {"HOME": "/home/u"}
    assert locations.platform_models_dir("linux", home) == Path(
        "/home/u/.local/share/marsspec/models"
    )
    assert locations.platform_models_dir("darwin", home) == Path(
        "/home/u/Library/Application Support/marsspec/models"
    )
    assert locations.platform_models_dir("win32", {"APPDATA": "C:/Users/u/AppData/Roaming"}) == (
        Path("C:/Users/u/AppData/Roaming") / "marsspec" / "models"
    )


def test_export_to_user_folder_predict_list_replace(trained, user_dir, tmp_path, capsys):
    bundled_before = folder_digest(MODELS_DIR)
    assert export("--checkpoint", str(trained)) == 0
    assert "card=" in capsys.readouterr().out

    # weights + card + manifest in the user folder, nothing else, nothing in models/
    assert sorted(p.name for p in user_dir.iterdir()) == [
        "manifest.json",
        "my-evc.md",
        "my-evc.safetensors",
    ]
    entry = load_manifest(user_dir / "manifest.json").get("my-evc")
    assert entry.card == "my-evc.md" and entry.card_path.is_file()
    card = entry.card_path.read_text(encoding="utf-8")
    assert card.startswith("# my-evc") and entry.sha256 in card and "Recipe" in card
    assert entry.extra["target_stats"] == [[0.2, 0.05], [0.18, 0.04], [0.15, 0.03]]
    assert entry.extra["target_units"] == "I/F"
    assert entry.extra["band_names"] == ["R592", "R533", "R442"]
    assert [b["name"] for b in entry.bands] == ["R592", "R533", "R442"]

    # listed with the bundled ones, marked as the user's; bundled ones marked as bundled
    merged = load_manifest()
    mine = merged.get("my-evc")
    assert mine.source == "user" and mine.label.endswith("(yours)")
    assert merged.get("evc-regression").label.endswith("(bundled)")
    offered = {o.id: o for o in options.model_options("predict")}
    assert offered["my-evc"].source == "user" and offered["my-evc"].label.endswith("(yours)")
    assert offered["evc-regression"].label.endswith("(bundled)")
    # by task, bundled before yours within a task
    assert options.model_ids("predict") == (
        "evc-regression",
        "fc-regression",
        "my-evc",
        "evc-bins20",
    )
    assert "my-evc (yours)" in options.models_listing("predict")

    # predict finds it by id, without --manifest
    scene = trained.parent.parent / "s" / "a"
    out = tmp_path / "evc.tif"
    assert (
        cli_main(
            ["predict", str(scene / "ctx.tif"), str(out), "--model", "my-evc", "--device", "cpu"]
        )
        == 0
    )
    assert out.is_file()

    # the same id again: refused without --replace (nothing changed), works with it
    before = folder_digest(user_dir)
    assert export("--checkpoint", str(trained)) == 1
    assert "--replace" in capsys.readouterr().err
    assert folder_digest(user_dir) == before
    assert export("--checkpoint", str(trained), "--replace", "--training-data", "again") == 0
    assert load_manifest(user_dir / "manifest.json").get("my-evc").training_data == "again"

    # a second id adds to the same manifest
    assert export("--checkpoint", str(trained), "--id", "my-evc-2") == 0
    assert load_manifest(user_dir / "manifest.json").ids() == ("my-evc", "my-evc-2")

    assert folder_digest(MODELS_DIR) == bundled_before


def test_bundled_id_and_folder_are_refused(trained, user_dir, capsys):
    bundled_before = folder_digest(MODELS_DIR)
    for extra in ((), ("--replace",)):
        assert export("--checkpoint", str(trained), "--id", "evc-regression", *extra) == 1
        err = capsys.readouterr().err
        assert "bundled" in err and "choose another --id" in err
    assert export("--checkpoint", str(trained), "--models-dir", str(MODELS_DIR)) == 1
    assert "bundled models folder" in capsys.readouterr().err
    assert not user_dir.exists()  # made for the export, removed again when it failed
    assert folder_digest(MODELS_DIR) == bundled_before


def test_user_entry_with_a_bundled_id_loses_with_a_warning(user_dir, caplog):
    user_dir.mkdir()
    bundled = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    clash = {**bundled["models"][0], "title": "Impostor"}
    manifest = user_dir / "manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": [clash]}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="marsspec.models"):
        merged = load_manifest()
    entry = merged.get(clash["id"])
    assert entry.source == "bundled" and entry.title != "Impostor"
    assert any(str(manifest) in w for w in merged.warnings)
    assert str(manifest) in caplog.text


def test_broken_user_manifest_keeps_the_bundled_models(user_dir):
    user_dir.mkdir()
    (user_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    merged = load_manifest()
    assert "evc-regression" in merged.ids() and merged.warnings
    with pytest.raises(ModelNotFoundError, match="ignored"):
        merged.get("mine")
    assert options.model_ids("predict")[0] == "evc-regression"


def test_given_manifest_still_works(trained, user_dir, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert export("--checkpoint", str(trained), "--models-dir", str(other)) == 0
    assert not user_dir.exists()
    with pytest.raises(ModelNotFoundError):
        load_manifest().get("my-evc")
    assert load_manifest(other / "manifest.json").get("my-evc").source == "user"
    with pytest.raises(InputError, match="does not exist"):
        load_manifest(tmp_path / "nowhere.json")


def test_superres_checkpoint_exports_through_the_cli(tmp_path, user_dir, capsys):
    from marsspec.training.superres.train import main as train_sr
    from tests.test_superres_training import config as sr_config

    assert train_sr(sr_config(tmp_path, max_steps=1)) == 0
    checkpoint = tmp_path / "psnr" / "last.pt"
    bundled_before = folder_digest(MODELS_DIR)
    assert export("--checkpoint", str(checkpoint), "--id", "marsgan-psnr") == 1
    assert "choose another --id" in capsys.readouterr().err
    assert export("--checkpoint", str(checkpoint), "--id", "my-sr") == 0
    assert sorted(p.name for p in user_dir.iterdir()) == [
        "manifest.json",
        "my-sr.md",
        "my-sr.safetensors",
    ]
    entry = load_manifest().get("my-sr")
    assert entry.source == "user" and entry.task == "superres" and entry.card_path.is_file()
    assert "my-sr (yours)" in options.models_listing("superres")
    assert options.model_ids("superres")[:2] == ("marsgan-psnr", "my-sr")  # psnr first
    assert export("--checkpoint", str(checkpoint), "--id", "my-sr") == 1
    assert export("--checkpoint", str(checkpoint), "--id", "my-sr", "--replace") == 0
    assert folder_digest(MODELS_DIR) == bundled_before
