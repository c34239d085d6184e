"""Issue 17: artefact metrics on constructed cases, fixed splits by observation, LR families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from marsspec.core.errors import InputError
from marsspec.core.metrics.sr_artefacts import direction_ratio, flat_detail_ratio
from marsspec.training.superres.degrade import (
    FAMILIES,
    Degradation,
    bicubic_up,
    degrade,
    random_degradation,
)
from marsspec.training.superres.splits import (
    SPLITS_DIR,
    observation_of,
    read_split_list,
    real_crops,
    simulated_seeds,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _terrain(seed: int, size: int = 192) -> np.ndarray:
    """Isotropic HR texture (smoothed white noise) with a flat half: no preferred direction."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    image = gaussian_filter(rng.standard_normal((size, size)), 1.5)
    image[:, : size // 2] *= 0.05  # nearly flat terrain on the left
    return (0.5 + 0.1 * image / image.std()).astype(np.float32)


def _cases(n: int = 4):
    hrs, bics = [], []
    for seed in range(n):
        hr = _terrain(seed)
        lr = degrade(torch.from_numpy(hr)[None, None])
        hrs.append(hr)
        bics.append(bicubic_up(lr)[0, 0].numpy())
    return hrs, bics


def _stripes(size: int, angle_deg: float, period: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = np.radians(angle_deg)
    return np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)


def test_faithful_detail_scores_one_and_hatching_fails():
    hrs, bics = _cases()
    assert direction_ratio(hrs, bics, hrs) == pytest.approx(1.0)
    assert flat_detail_ratio(hrs, bics, hrs) == pytest.approx(1.0)
    # Half the true detail: weaker, but in the same directions.
    half = [b + 0.5 * (h - b) for h, b in zip(hrs, bics, strict=True)]
    assert direction_ratio(half, bics, hrs) == pytest.approx(1.0)
    assert flat_detail_ratio(half, bics, hrs) == pytest.approx(0.25)
    # Stripes as strong as the true detail (std ~0.05) at +45 degrees: outside 0.8-1.25.
    hatch = [s + 0.05 * _stripes(s.shape[0], 45) for s in hrs]
    assert direction_ratio(hatch, bics, hrs) > 1.5
    # ... and one that adds axis-aligned (column) stripes fails it the other way.
    columns = [s + 0.05 * _stripes(s.shape[0], 0) for s in hrs]
    assert direction_ratio(columns, bics, hrs) < 0.8


def test_invented_texture_on_flat_terrain_is_flagged():
    hrs, bics = _cases()
    rng = np.random.default_rng(0)
    worms = [s + 0.01 * rng.standard_normal(s.shape).astype(np.float32) for s in hrs]
    assert flat_detail_ratio(worms, bics, hrs) > 3.0
    # Bicubic itself adds nothing anywhere.
    assert flat_detail_ratio(bics, bics, hrs) == 0.0


def test_splits_are_disjoint_by_observation_and_configs_respect_them():
    for name in ("hirise_deeplandforms.txt", "simulated_superres.txt"):
        assigned = read_split_list(SPLITS_DIR / name)
        assert {"train", "val", "test"} <= set(assigned.values())
    train, val, test = (set(simulated_seeds(s)) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    for config in sorted((ROOT / "training" / "configs").glob("marsgan-*.yaml")):
        simulate = yaml.safe_load(config.read_text())["simulate"]
        assert set(simulate["seeds"]) <= train, config.name
        assert set(simulate["val_seeds"]) <= val, config.name


def test_split_list_refuses_an_observation_in_two_splits(tmp_path):
    listing = tmp_path / "splits.txt"
    listing.write_text("train ESP_012600_1655\ntest ESP_012600_1655\n")
    with pytest.raises(InputError, match="in both 'train' and 'test'"):
        read_split_list(listing)
    listing.write_text("holdout ESP_012600_1655\n")
    with pytest.raises(InputError, match=r"splits\.txt:1"):
        read_split_list(listing)
    assert observation_of("ESP_014380_1775_H2_V0_mirrored.jpg") == "ESP_014380_1775"
    with pytest.raises(InputError, match="observation id"):
        observation_of("crop_12.jpg")


@pytest.mark.skipif(
    not (DATA / "hirise_deeplandforms").is_dir(),
    reason="../shared/data/hirise_deeplandforms (real HiRISE crops) is not beside the checkout",
)
def test_every_real_crop_is_in_exactly_one_split():
    folder = DATA / "hirise_deeplandforms"
    crops = {split: real_crops(DATA, split) for split in ("train", "val", "test")}
    listed = [path.name for paths in crops.values() for path in paths]
    assert sorted(listed) == sorted(p.name for p in folder.glob("*.jpg"))  # none left out
    observations = {s: {observation_of(p.name) for p in paths} for s, paths in crops.items()}
    assert not observations["train"] & observations["test"]
    assert not observations["val"] & observations["test"]
    assert not observations["train"] & observations["val"]
    assert len(observations["test"]) >= 8 and len(crops["test"]) >= 10


def test_lr_families_differ_as_their_names_say():
    hr = torch.from_numpy(_terrain(5, 128))[None, None]
    lrs = {name: f.apply(hr, np.random.default_rng(0)) for name, f in FAMILIES.items()}
    assert all(lr.shape == (1, 1, 32, 32) for lr in lrs.values())
    assert torch.equal(lrs["paper"], degrade(hr))  # the paper's model, unchanged
    assert not torch.allclose(lrs["aliased"], lrs["antialiased"], atol=1e-4)
    jpeg = lrs["jpeg"].numpy() * 255
    assert np.allclose(jpeg, np.round(jpeg), atol=1e-3)  # 8-bit round trip
    stripes = (lrs["striped"] - lrs["paper"])[0, 0].numpy()
    assert np.allclose(stripes, stripes[0:1, :], atol=1e-6)  # one offset per column
    assert stripes.std() > 0.003
    again = FAMILIES["noisy"].apply(hr, np.random.default_rng(0))
    assert torch.equal(again, lrs["noisy"])  # noise fixed by the generator
    shifted = Degradation(psf_sigma=0.0, shift_hr_px=(4.0, 0.0)).apply(hr, np.random.default_rng(0))
    plain = Degradation(psf_sigma=0.0).apply(hr, np.random.default_rng(0))
    assert torch.allclose(shifted[..., 2:-2, :], plain[..., 1:-3, :], atol=0.02)  # 1 LR px down
    with pytest.raises(InputError, match="downsample"):
        Degradation(downsample="nearest")
    draws = [random_degradation(np.random.default_rng(i)) for i in range(40)]
    assert {d.downsample for d in draws} == {"bicubic", "antialiased"}
    assert any(d.jpeg_quality for d in draws) and any(d.psf_sigma == 0 for d in draws)
