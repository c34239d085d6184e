"""Where the diagonal detail of the bundled SR models comes from (issue 17): key=value lines.

Two measurements on real HiRISE crops of one split (default: val, which choices may look at):

1. ``band_<lo>_<hi>_*``: the directional energy of the added detail (SR - bicubic) and of the
   true detail (HR - bicubic) in rings of spatial frequency (cycles per HR pixel). The LR grid
   holds frequencies up to 0.125 cycles/HR px along the axes but up to 0.177 along the
   diagonals (the corners of its square passband); an excess confined to rings beyond 0.125
   points at what the network does with that corner content.
2. ``direction_ratio_plain`` vs ``direction_ratio_corners_cut``: the same network fed the same
   LR with its corner frequencies removed (only the inscribed disc of the LR spectrum kept).
   If the diagonal excess disappears, the network amplifies what the square LR grid holds only
   along the diagonals; if it stays, the network paints it from lower frequencies (an
   up-sampling artefact or a learnt bias). This is an ablation for diagnosis, not a fix.

    python scripts/sr_direction_diagnosis.py --model marsgan-psnr [--split val]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

WINDOW = 192  # HR px, as `eval sr`
ORIGINS = (100, 500)  # window origins per axis in each 900 px crop
RINGS = ((0.02, 0.08), (0.08, 0.125), (0.125, 0.2), (0.2, 0.3), (0.3, 0.5))


def _cut_corners(lr):
    """LR with every frequency outside the disc of radius 0.5 cycles/LR px removed."""
    import torch

    values = lr[0, 0].numpy().astype(np.float64)
    fy = np.fft.fftfreq(values.shape[0])[:, None]
    fx = np.fft.fftfreq(values.shape[1])[None, :]
    kept = np.real(np.fft.ifft2(np.fft.fft2(values) * (np.hypot(fy, fx) <= 0.5)))
    return torch.from_numpy(kept.astype(np.float32))[None, None]


def _ring_energies(detail: np.ndarray) -> list[tuple[float, float]]:
    """(diagonal, axis) energy of ``detail`` in each of RINGS (Hann window, mean removed)."""
    n = detail.shape[0]
    window = np.outer(np.hanning(n), np.hanning(n))
    power = np.abs(np.fft.fft2((detail - detail.mean()) * window)) ** 2
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    radius = np.hypot(fy, fx)
    angle = np.degrees(np.arctan2(fy, fx)) % 180.0
    off_axis = np.minimum(angle % 90.0, 90.0 - angle % 90.0)
    out = []
    for lo, hi in RINGS:
        ring = (radius >= lo) & (radius < hi)
        out.append((float(power[ring & (off_axis >= 22.5)].sum()), float(power[ring].sum())))
    return out


def main() -> int:
    import torch

    from marsspec.core.metrics.sr_artefacts import DirectionTally
    from marsspec.core.superres.model import load_generator
    from marsspec.training.superres.data import read_grey_crop
    from marsspec.training.superres.degrade import FAMILIES, bicubic_up
    from marsspec.training.superres.splits import real_crops
    from marsspec.training.superres.train import DEFAULT_DATA_ROOT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="marsgan-psnr")
    parser.add_argument("--split", choices=("train", "val", "test"), default="val")
    parser.add_argument("--data-root", type=Path, default=Path(DEFAULT_DATA_ROOT))
    args = parser.parse_args()
    net = load_generator(args.model, None).network
    crops = real_crops(args.data_root, args.split)
    if not crops:
        raise SystemExit(f"no real HiRISE crop of split {args.split} under {args.data_root}")
    rng = np.random.default_rng(0)
    tallies = {"plain": DirectionTally(), "corners_cut": DirectionTally()}
    rings = np.zeros((2, len(RINGS), 2))  # (added, true) x ring x (diagonal, total)
    for path in crops:
        image = read_grey_crop(path)
        for row in ORIGINS:
            for col in ORIGINS:
                hr = np.ascontiguousarray(image[row : row + WINDOW, col : col + WINDOW])
                lr = FAMILIES["paper"].apply(torch.from_numpy(hr)[None, None], rng)
                for name, x in (("plain", lr), ("corners_cut", _cut_corners(lr))):
                    with torch.inference_mode():
                        sr = net(x)[0, 0].numpy()
                    bic = bicubic_up(x)[0, 0].numpy()
                    inner = (slice(8, -8), slice(8, -8))
                    tallies[name].add(sr[inner], bic[inner], hr[inner])
                    if name == "plain":
                        rings[0] += _ring_energies(sr[inner] - bic[inner])
                        rings[1] += _ring_energies(hr[inner] - bic[inner])
    print(f"model={args.model}")
    print(f"split={args.split}")
    print(f"windows={len(crops) * len(ORIGINS) ** 2}")
    for i, (lo, hi) in enumerate(RINGS):
        added_diag, added_total = rings[0, i]
        true_diag, true_total = rings[1, i]
        added = added_diag / (added_total - added_diag)
        true = true_diag / (true_total - true_diag)
        key = f"band_{lo:g}_{hi:g}"
        print(f"{key}_added_diag_axis={added:.3f}")
        print(f"{key}_true_diag_axis={true:.3f}")
        print(f"{key}_direction_ratio={added / true:.3f}")
        print(f"{key}_added_over_true_energy={added_total / true_total:.4f}")
    for name, tally in tallies.items():
        print(f"direction_ratio_{name}={tally.ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
