"""Is the albedo/morphology -> spectra link learnable but not trivial? A quick measurement.

Compares, on held-out simulated scenes, the per-band Pearson correlation (PCC) with the
registered CRISM target of (a) a per-band linear regression on CTX brightness, (b) the same
on CTX blurred to CRISM's resolution (the strongest "brightness only" baseline), and (c) a
small CNN that sees texture and morphology context. The simulator is tuned so that (a) stays
well below PCC 0.95 on the EVC bands and (c) beats it clearly.

    python -m marsspec.training.evaluation.learnability --size 256 --train 6 --test 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter

from marsspec.core.metrics.spectral import pcc

SITES = ("jezero", "gale", "eberswalde", "holden", "mawrth_vallis", "melas_chasma")


def crism_blur(ctx: np.ndarray) -> np.ndarray:
    """CTX brought to CRISM's 18 m point spread (the simulator's own CRISM PSF)."""
    return gaussian_filter(uniform_filter(ctx, size=3, mode="nearest"), 0.6, mode="nearest")


def load_pair(scene_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ctx, target bands, valid mask) of one simulated scene folder."""
    import rasterio

    with rasterio.open(scene_dir / "ctx.tif") as ds:
        ctx = ds.read(1)
    with rasterio.open(scene_dir / "crism_target.tif") as ds:
        target = ds.read()
        valid = ds.read_masks(1) > 0
    return ctx, target, valid


def fit_linear(pairs, blur: bool = False) -> np.ndarray:
    """Per-band least-squares (slope, intercept) of target on CTX over all valid pixels."""
    xs, ys = [], []
    for ctx, target, valid in pairs:
        x = crism_blur(ctx) if blur else ctx
        xs.append(x[valid])
        ys.append(target[:, valid])
    x = np.concatenate(xs).astype(np.float64)
    y = np.concatenate(ys, axis=1).astype(np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    return np.stack([np.linalg.lstsq(design, band, rcond=None)[0] for band in y])


def linear_pcc(coef: np.ndarray, pair, blur: bool = False) -> list[float]:
    ctx, target, valid = pair
    x = (crism_blur(ctx) if blur else ctx)[valid]
    return [pcc(x * c[0] + c[1], target[b][valid]) for b, c in enumerate(coef)]


def simulate_pairs(seeds, size: int, root: Path):
    from marsspec.core.simulator import SceneConfig, simulate_scene

    pairs = []
    for seed in seeds:
        config = SceneConfig(
            seed=seed, size=size, site=SITES[seed % len(SITES)], products=("ctx", "crism")
        )
        result = simulate_scene(config, root / f"scene{seed}")
        pairs.append(load_pair(result.out_dir))
    return pairs


def train_cnn(pairs, steps: int, patch: int = 96, seed: int = 0, width: int = 16):
    """A small dilated CNN (receptive field 65 CTX px) trained with MSE on valid pixels;
    deliberately tiny so the measurement runs in about a minute of CPU."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ctx_all = np.concatenate([p[0][p[2]] for p in pairs])
    tgt_all = np.concatenate([p[1][:, p[2]] for p in pairs], axis=1)
    x_mean, x_std = float(ctx_all.mean()), float(ctx_all.std())
    y_mean, y_std = tgt_all.mean(axis=1), tgt_all.std(axis=1)
    bands = tgt_all.shape[0]
    layers: list[nn.Module] = []
    channels = 1
    for dilation in (1, 2, 4, 8, 16, 1):
        layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation), nn.GELU()]
        channels = width
    layers.append(nn.Conv2d(width, bands, 1))
    net = nn.Sequential(*layers)
    optim = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, steps)

    def batch(n=4):
        xs, ys, ms = [], [], []
        for _ in range(n):
            ctx, target, valid = pairs[rng.integers(len(pairs))]
            r = rng.integers(0, ctx.shape[0] - patch + 1)
            c = rng.integers(0, ctx.shape[1] - patch + 1)
            xs.append((ctx[r : r + patch, c : c + patch] - x_mean) / x_std)
            t = target[:, r : r + patch, c : c + patch]
            ys.append((t - y_mean[:, None, None]) / y_std[:, None, None])
            ms.append(valid[r : r + patch, c : c + patch])
        return (
            torch.from_numpy(np.stack(xs)[:, None].astype(np.float32)),
            torch.from_numpy(np.stack(ys).astype(np.float32)),
            torch.from_numpy(np.stack(ms)[:, None]),
        )

    for _ in range(steps):
        x, y, m = batch()
        loss = (((net(x) - y) ** 2) * m).sum() / (m.sum() * bands).clamp(min=1)
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()

    def predict(ctx: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(((ctx - x_mean) / x_std)[None, None].astype(np.float32))
            out = net(x)[0].numpy()
        return out * y_std[:, None, None] + y_mean[:, None, None]

    return predict


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--train", type=int, default=6)
    parser.add_argument("--test", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pairs = simulate_pairs(range(args.train + args.test), args.size, Path(tmp))
    train, test = pairs[: args.train], pairs[args.train :]
    names = ("592", "533", "442", "2503", "1500", "1080")
    results = {"linear_ctx": [], "linear_blurred_ctx": [], "cnn": []}
    coef, coef_blur = fit_linear(train), fit_linear(train, blur=True)
    predict = train_cnn(train, args.steps)
    for pair in test:
        results["linear_ctx"].append(linear_pcc(coef, pair))
        results["linear_blurred_ctx"].append(linear_pcc(coef_blur, pair, blur=True))
        pred = predict(pair[0])
        results["cnn"].append([pcc(pred[b][pair[2]], pair[1][b][pair[2]]) for b in range(6)])
    for key, rows in results.items():
        mean = np.mean(rows, axis=0)
        for name, value in zip(names, mean, strict=False):
            print(f"pcc_{key}_{name}nm={value:.3f}")
        print(f"pcc_{key}_evc_mean={mean[:3].mean():.3f}")
        print(f"pcc_{key}_fc_mean={mean[3:].mean():.3f}")
    print(f"seconds={time.perf_counter() - start:.0f}")


if __name__ == "__main__":
    main()
