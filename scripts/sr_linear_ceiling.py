"""How much of x4 super-resolution on the real HiRISE crops a LINEAR filter already gets.

Issue 17 diagnostic: the best linear x4 filter (least squares, one 7x7 LR kernel per sub-pixel
phase plus an offset) is fitted on the TRAIN crops of training/splits/ and scored on the VAL
crops (never the test split), as the PSNR gain over bicubic x4 per LR family. A network that
does not clearly beat it has learnt little beyond deblurring. Prints ``key=value`` lines.

    python scripts/sr_linear_ceiling.py [--families paper,antialiased]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RADIUS = 3  # LR pixels: a 7x7 support
BORDER = 16  # HR pixels left out of the score (filter and bicubic border effects)


def _features(lr: np.ndarray) -> np.ndarray:
    """(h, w, 50): the 7x7 LR neighbourhood of every LR pixel and a constant."""
    h, w = lr.shape
    padded = np.pad(lr, RADIUS, mode="reflect")
    size = 2 * RADIUS + 1
    columns = [padded[dy : dy + h, dx : dx + w] for dy in range(size) for dx in range(size)]
    return np.stack([*columns, np.ones_like(lr)], axis=-1)


def _pairs(split: str, family: str, rng: np.random.Generator):
    import torch

    from marsspec.training.superres.data import read_grey_crop
    from marsspec.training.superres.degrade import FAMILIES
    from marsspec.training.superres.splits import real_crops

    for path in real_crops(DATA, split):
        hr = torch.from_numpy(read_grey_crop(path))[None, None]
        yield hr[0, 0].numpy(), FAMILIES[family].apply(hr, rng)[0, 0].numpy()


def linear_gain(family: str, scale: int = 4) -> list[float]:
    """Per validation crop: PSNR of the fitted linear filter minus that of bicubic x4."""
    import torch

    from marsspec.core.metrics.image import psnr
    from marsspec.training.superres.degrade import bicubic_up

    rng = np.random.default_rng(0)
    n = (2 * RADIUS + 1) ** 2 + 1
    normal = np.zeros((scale * scale, n, n))
    target = np.zeros((scale * scale, n))
    for hr, lr in _pairs("train", family, rng):
        feats = _features(lr)
        for phase in range(scale * scale):
            i, j = divmod(phase, scale)
            y = hr[i::scale, j::scale]
            f = feats[: y.shape[0], : y.shape[1]].reshape(-1, n)
            y = y[: feats.shape[0], : feats.shape[1]].ravel()
            normal[phase] += f.T @ f
            target[phase] += f.T @ y
    kernels = [np.linalg.solve(normal[p] + 1e-6 * np.eye(n), target[p]) for p in range(len(target))]
    gains = []
    for hr, lr in _pairs("val", family, rng):
        feats = _features(lr)
        sr = np.zeros_like(hr)
        for phase, kernel in enumerate(kernels):
            i, j = divmod(phase, scale)
            block = sr[i::scale, j::scale]
            block[...] = (feats @ kernel)[: block.shape[0], : block.shape[1]]
        bicubic = bicubic_up(torch.from_numpy(lr)[None, None])[0, 0].numpy()
        inner = (slice(BORDER, -BORDER),) * 2
        gains.append(psnr(sr[inner], hr[inner], 1.0) - psnr(bicubic[inner], hr[inner], 1.0))
    return gains


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="paper,antialiased")
    args = parser.parse_args()
    for family in args.families.split(","):
        gains = linear_gain(family)
        print(f"linear_{family}_val_crops={len(gains)}")
        print(f"linear_{family}_psnr_gain_db={np.mean(gains):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
