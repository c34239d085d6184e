"""core.options is the one definition of every choice: the core modules that check a value use
its tuples, and its model lists come from the manifest (bundled or given) in a stable order."""

from __future__ import annotations

import json

import pytest

from marsspec.core import options
from marsspec.core.models.manifest import MANIFEST_PATH


def test_core_lists_are_the_options_lists():
    from marsspec.core import devices
    from marsspec.core.models import bins, confidence, normalisation
    from marsspec.core.superres import job as superres_job
    from marsspec.core.tiling import engine, weights

    assert devices.PRECISIONS is options.PRECISIONS
    assert confidence.MEASURES is options.MEASURES
    assert bins.RECONSTRUCTIONS is options.RECONSTRUCTIONS
    assert normalisation.MODES is options.NORMALISATIONS
    assert weights.BLENDINGS is options.BLENDINGS
    assert engine.BLENDINGS is options.BLENDINGS
    assert superres_job.COLOUR_MODES is options.COLOUR_MODES
    assert superres_job.BLENDINGS is options.SR_BLENDINGS


def test_defaults_are_first_options():
    pairs = [
        (options.DEFAULT_DEVICE, options.DEVICES),
        (options.DEFAULT_PRECISION, options.PRECISIONS),
        (options.DEFAULT_BLENDING, options.BLENDINGS),
        (options.DEFAULT_NORMALISATION, options.NORMALISATIONS),
        (options.DEFAULT_MEASURE, options.MEASURES),
        (options.DEFAULT_RECONSTRUCTION, options.RECONSTRUCTIONS),
        (options.DEFAULT_COLOUR_MODE, options.COLOUR_MODES),
        (options.DEFAULT_SR_BLENDING, options.SR_BLENDINGS),
    ]
    assert all(default == choices[0] for default, choices in pairs)


def test_bundled_models_by_job():
    assert options.model_ids("predict") == ("evc-regression", "fc-regression", "evc-bins20")
    assert options.model_ids("confidence") == ("evc-bins20",)
    assert options.model_ids("superres") == ("marsgan-psnr", "marsgan-gan")
    assert {job: options.default_model(job) for job in options.MODEL_TASKS} == (
        options.DEFAULT_MODELS
    )
    regression = options.model_options("predict")[0]
    assert regression.default_stride_factor == 2 and "EVC" in regression.label


def _manifest_with(tmp_path, *extra: dict):
    data = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    data["models"] += list(extra)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_given_manifest_adds_models_and_their_stride(tmp_path):
    bins = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))["models"][0]
    assert bins["id"] == "evc-bins20"
    mine = {**bins, "id": "aaa-bins", "title": "Mine", "default_stride_factor": 3}
    path = _manifest_with(tmp_path, mine)
    ids = options.model_ids("confidence", path)
    assert ids == ("aaa-bins", "evc-bins20")
    assert options.default_model("confidence", ids) == "evc-bins20"  # not the first listed
    (option,) = [o for o in options.model_options("confidence", path) if o.id == "aaa-bins"]
    assert option.default_stride_factor == 3 and option.label.startswith("Mine [")


def test_unreadable_manifest_still_offers_the_default(tmp_path):
    broken = tmp_path / "manifest.json"
    broken.write_text("{not json", encoding="utf-8")
    assert options.model_ids("predict", broken) == ("evc-regression",)
    with pytest.raises(Exception, match="manifest"):
        options.model_options("predict", broken)
