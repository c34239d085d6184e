"""Bad inputs to `marsspec train | export | eval`: one clear line, nothing left behind.

Every case runs the real command line in a subprocess and checks the contract of issue 20:
a non-zero exit, exactly one error line naming the problem (and the key or file), no Python
traceback, no new file or folder in the test's folder, and every file that was there before
byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import write_mars_raster

SR_GENERATOR = {"nf": 8, "gc": 4, "n_blocks": 1, "recon_features": 1, "bicubic_skip": True}


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` -> sha256 of its bytes ("dir" for folders)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def fails_cleanly(folder: Path, *args: str, names: tuple[str, ...]) -> str:
    """Run ``marsspec ARGS`` in ``folder``; assert the bad-input contract; return the error."""
    before = snapshot(folder)
    completed = subprocess.run(
        [sys.executable, "-m", "marsspec", *args],
        cwd=folder,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in completed.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, completed.stderr
    assert errors[0].startswith(f"marsspec {args[0]}: error: "), errors[0]
    for name in names:
        assert name in errors[0], (name, errors[0])
    assert "=nan" not in completed.stdout
    assert snapshot(folder) == before, "files were added, removed or changed"
    return errors[0]


def write_config(folder: Path, name: str, text_or_data: str | dict) -> Path:
    path = folder / name
    if isinstance(text_or_data, dict):
        text_or_data = yaml.safe_dump(text_or_data)
    path.write_text(text_or_data, encoding="utf-8")
    return path


def sr_config(folder: Path, **kw) -> dict:
    """A tiny super-resolution config whose HR image is a real raster in ``folder``."""
    image = folder / "hr.tif"
    if not image.exists():
        rng = np.random.default_rng(0)
        write_mars_raster(image, rng.random((64, 64)).astype("float32"), pixel_size=0.75)
    base = {
        "id": "t",
        "task": "superres",
        "out_dir": str(folder / "runs" / "t"),
        "hr_patterns": [str(image)],
        "generator": SR_GENERATOR,
        "hr_crop": 32,
        "batch_size": 1,
        "max_steps": 1,
        "device": "cpu",
        "threads": 1,
    }
    return {**base, **kw}


# ---- config schema ----------------------------------------------------------------------------
def test_malformed_yaml_line_names_file_and_line(tmp_path):
    config = write_config(tmp_path, "c.yaml", "id: x\ntask: superres\nlr: [0.1, 0.2\nseed: 1\n")
    error = fails_cleanly(tmp_path, "train", "--config", str(config), names=("c.yaml",))
    assert "line 3" in error and "Error" not in error  # no ParserError/YAMLError class names


def test_wrong_type_names_key_type_and_value(tmp_path):
    config = write_config(tmp_path, "c.yaml", {**sr_config(tmp_path), "lr": "fast"})
    fails_cleanly(
        tmp_path,
        "train",
        "--config",
        str(config),
        names=("c.yaml line", "lr: expected a number, got 'fast'"),
    )


def test_wrong_type_in_set_override(tmp_path):
    config = write_config(tmp_path, "c.yaml", sr_config(tmp_path))
    fails_cleanly(
        tmp_path,
        "train",
        "--config",
        str(config),
        "--set",
        "batch_size=two",
        names=("--set batch_size: expected an integer, got 'two'",),
    )


def test_wrong_type_inside_a_nested_mapping(tmp_path):
    config = write_config(tmp_path, "c.yaml", sr_config(tmp_path))
    fails_cleanly(
        tmp_path,
        "train",
        "--config",
        str(config),
        "--set",
        "generator.n_blocks=many",
        names=("generator.n_blocks: expected an integer, got 'many'",),
    )


def test_unknown_key_names_the_closest_and_the_valid_keys(tmp_path):
    config = write_config(tmp_path, "c.yaml", {**sr_config(tmp_path), "lrr": 0.1})
    fails_cleanly(
        tmp_path,
        "train",
        "--config",
        str(config),
        names=("'lrr'", "did you mean 'lr'?", "valid keys:", "hr_crop"),
    )


def test_missing_required_key_is_named(tmp_path):
    config = write_config(tmp_path, "c.yaml", "task: spectra-regression\nscenes: [x/*]\n")
    fails_cleanly(tmp_path, "train", "--config", str(config), names=("'id'", "id: ..."))


def test_duplicate_key_and_value_out_of_range(tmp_path):
    config = write_config(tmp_path, "c.yaml", "id: x\ntask: superres\nlr: 1\nlr: 2\n")
    fails_cleanly(tmp_path, "train", "--config", str(config), names=("line 4", "'lr'", "twice"))
    config = write_config(tmp_path, "d.yaml", {**sr_config(tmp_path), "val_every": 0})
    fails_cleanly(tmp_path, "train", "--config", str(config), names=("val_every", "at least 1"))


def test_missing_config_file(tmp_path):
    fails_cleanly(tmp_path, "train", "--config", "nope.yaml", names=("nope.yaml", "does not"))


# ---- missing or bad data: nothing created -----------------------------------------------------
def test_empty_training_folder_creates_no_run_tree(tmp_path):
    (tmp_path / "scenes").mkdir()
    config = write_config(
        tmp_path,
        "c.yaml",
        {
            "id": "x",
            "task": "spectra-regression",
            "out_dir": str(tmp_path / "runs" / "deep" / "x"),
            "scenes": [str(tmp_path / "scenes" / "*")],
            "patch_size": 64,
            "device": "cpu",
        },
    )
    fails_cleanly(tmp_path, "train", "--config", str(config), names=("scenes", "simulate"))
    assert not (tmp_path / "runs").exists()


def test_unreadable_training_raster_is_one_line(tmp_path):
    (tmp_path / "fake.tif").write_text("not a raster", encoding="utf-8")
    config = write_config(
        tmp_path, "c.yaml", sr_config(tmp_path, hr_patterns=[str(tmp_path / "fake.tif")])
    )
    fails_cleanly(tmp_path, "train", "--config", str(config), names=("fake.tif",))


def test_missing_init_from_names_the_path(tmp_path):
    config = write_config(tmp_path, "c.yaml", sr_config(tmp_path, init_from="runs/old/last.pt"))
    fails_cleanly(
        tmp_path,
        "train",
        "--config",
        str(config),
        names=("init_from", "runs/old/last.pt", "does not exist", ".safetensors"),
    )


def test_corrupt_resume_checkpoint_keeps_existing_files(tmp_path):
    run = tmp_path / "runs" / "t"
    run.mkdir(parents=True)
    torch.save({"task": "superres", "step": 7}, run / "best.pt")
    (run / "last.pt").write_bytes(b"\x80\x02 truncated by a crash")
    config = write_config(tmp_path, "c.yaml", sr_config(tmp_path))
    fails_cleanly(
        tmp_path, "train", "--config", str(config), names=("last.pt", "start afresh")
    )  # snapshot: best.pt and last.pt byte-identical, nothing added


# ---- export -----------------------------------------------------------------------------------
def spectral_checkpoint(path: Path) -> Path:
    """A small but complete spectral checkpoint (as `marsspec train` writes one)."""
    from marsspec.training.spectra.config import load_config

    config = load_config({"id": "tiny", "patch_size": 64}).to_dict()
    torch.save({"model": {"w": torch.ones(3)}, "config": config}, path)
    return path


def test_export_missing_checkpoint(tmp_path):
    fails_cleanly(
        tmp_path,
        "export",
        "--checkpoint",
        "runs/x/best.pt",
        "--models-dir",
        str(tmp_path),
        names=("--checkpoint", "runs/x/best.pt", "does not exist", "marsspec train"),
    )


def test_export_corrupt_checkpoint(tmp_path):
    (tmp_path / "best.pt").write_text("oops", encoding="utf-8")
    fails_cleanly(
        tmp_path,
        "export",
        "--checkpoint",
        "best.pt",
        "--models-dir",
        str(tmp_path),
        names=("best.pt", "not a readable PyTorch checkpoint"),
    )


def test_export_refuses_to_overwrite_its_own_checkpoint(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    # exported weights given as the checkpoint, under their own id
    (models / "tiny.safetensors").write_bytes(b"weights exported earlier")
    fails_cleanly(
        tmp_path,
        "export",
        "--checkpoint",
        "models/tiny.safetensors",
        "--id",
        "tiny",
        "--models-dir",
        str(models),
        names=("tiny.safetensors", "is the input"),
    )


def test_export_missing_models_dir_and_metrics(tmp_path):
    checkpoint = spectral_checkpoint(tmp_path / "best.pt")
    fails_cleanly(
        tmp_path,
        "export",
        "--checkpoint",
        str(checkpoint),
        "--models-dir",
        str(tmp_path / "no-such-dir"),
        names=("no-such-dir", "does not exist"),
    )
    fails_cleanly(
        tmp_path,
        "export",
        "--checkpoint",
        str(checkpoint),
        "--models-dir",
        str(tmp_path),
        "--metrics",
        "eval.txt",
        names=("--metrics", "eval.txt"),
    )


# ---- eval -------------------------------------------------------------------------------------
def test_eval_sr_missing_checkpoint(tmp_path):
    fails_cleanly(
        tmp_path,
        "eval",
        "sr",
        "--checkpoint",
        "runs/t/last.pt",
        names=("--checkpoint", "runs/t/last.pt", "does not exist", "--model"),
    )


def test_eval_sr_missing_dataset_is_an_error_not_nan(tmp_path):
    fails_cleanly(
        tmp_path,
        "eval",
        "sr",
        "--images",
        str(tmp_path / "held-out" / "*.tif"),
        "--no-real",
        "--json",
        "eval.json",
        names=("--images", "held-out", "no file matches"),
    )


def test_eval_sr_images_too_small_to_measure(tmp_path):
    rng = np.random.default_rng(0)
    write_mars_raster(tmp_path / "small.tif", rng.random((64, 64)).astype("float32"))
    fails_cleanly(
        tmp_path,
        "eval",
        "sr",
        "--images",
        "small.tif",
        "--no-real",
        "--json",
        "eval.json",
        names=("192 px", "small"),
    )  # and eval.json was not written


def test_eval_spectra_unknown_model_and_no_scenes(tmp_path):
    fails_cleanly(
        tmp_path, "eval", "spectra", "--only", "no-such-model", names=("--only", "no-such-model")
    )
    fails_cleanly(tmp_path, "eval", "spectra", "--scenes", "0", names=("--scenes",))


# ---- in-process: the mechanisms behind the cases above ----------------------------------------
def test_eval_dispatcher_refuses_nan(monkeypatch, capsys):
    """Whatever an evaluator returns, a NaN is an error, never a printed `key=nan`."""
    import types

    from marsspec.cli.commands import eval as eval_command
    from marsspec.cli.main import main

    fake = types.ModuleType("fake_eval")
    fake.add_arguments = lambda parser: None
    fake.run = lambda args: {"good": 1.0, "sr_cpu_mpix_per_s": float("nan")}
    monkeypatch.setitem(sys.modules, "fake_eval", fake)
    monkeypatch.setitem(eval_command.EVALUATORS, "fake", ("fake_eval", "a fake"))
    assert main(["eval", "fake"]) == 1
    captured = capsys.readouterr()
    assert "=" not in captured.out
    assert "sr_cpu_mpix_per_s" in captured.err


def test_killed_checkpoint_save_keeps_the_previous_one(tmp_path, monkeypatch):
    """A save that dies half-way leaves the earlier checkpoint intact and no temporary file."""
    from marsspec.training import checkpoints

    good = checkpoints.save_checkpoint({"step": 1}, tmp_path / "last.pt")
    before = good.read_bytes()

    def dies_half_way(state, stream):
        stream.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint({"step": 2}, tmp_path / "last.pt")
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_run_folder_removes_only_what_it_made(tmp_path):
    from marsspec.training.checkpoints import RunFolder

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("mine", encoding="utf-8")
    folder = RunFolder(tmp_path / "runs" / "a" / "b")
    with pytest.raises(RuntimeError), folder:
        folder.ensure()
        raise RuntimeError("failed before the first checkpoint")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["keep.txt"]
    saved = RunFolder(tmp_path / "runs" / "c")
    with pytest.raises(RuntimeError), saved:
        saved.save({"step": 1}, "last.pt")
        raise RuntimeError("failed after a checkpoint: the run's resume point stays")
    assert (tmp_path / "runs" / "c" / "last.pt").is_file()


def test_good_run_and_export_leave_only_their_files(tmp_path):
    """The staged writes publish exactly the expected files, and no temporary one."""
    from marsspec.cli.main import main as cli_main
    from marsspec.training.superres.train import main

    assert main(sr_config(tmp_path, max_steps=2)) == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "t").iterdir()) == ["best.pt", "last.pt"]
    models = tmp_path / "models"
    models.mkdir()
    checkpoint = spectral_checkpoint(tmp_path / "best.pt")
    args = ["export", "--checkpoint", str(checkpoint), "--models-dir", str(models)]
    assert cli_main(args) == 0
    assert sorted(p.name for p in models.iterdir()) == [
        "manifest.json",
        "tiny.md",
        "tiny.safetensors",
    ]
