"""`marsspec eval sr`: super-resolution gains over bicubic x4 on held-out images.

Held-out HR images (simulated HiRISE-like scenes never used in training, and the last 15 % of
rows of the real HiRISE browse strip) are degraded as in training (Gaussian blur + bicubic
/4, paper 002 §2.4), super-resolved, and compared with the HR truth against the bicubic x4
baseline: ``sr_psnr_gain_db`` and ``sr_ssim_gain``. ``sr_edge_factor`` is §3.1's slanted-edge
measure: the 10-90 % rise of the bicubic-upscaled input divided by that of the SR image
(median over edges; mean and spread printed too), on synthetic slanted step edges (angles
2-40 degrees, HR edge spread 0.5 px) degraded the same way. A larger factor is not always
better: ``sr_soft_edge_rise_ratio`` is the SR rise over the TRUE rise on softer edges (HR
spread 1.0 px), 1 when SR restores them faithfully and below 1 when it makes them sharper than
they are (a net that has learnt that every edge is a sharp step).
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import numpy as np
import torch

from marsspec.core.errors import InputError
from marsspec.core.metrics.edge import rise_distance
from marsspec.core.metrics.image import psnr, ssim
from marsspec.training.superres.data import _normalise, read_raster_band, read_real_hirise
from marsspec.training.superres.degrade import bicubic_up, degrade

SIM_DIR = "/tmp/marsspec-sim/superres"
VAL_SEEDS = (752, 753, 754, 755, 756, 757, 758, 759)
CROP = 192  # HR pixels per evaluation crop (LR 48)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="marsgan-psnr", help="manifest model id")
    parser.add_argument("--fidelity", type=float, default=None, help="PSNR/GAN blend 0..1")
    parser.add_argument("--manifest", help="a manifest.json other than the bundled one")
    parser.add_argument(
        "--checkpoint",
        help="evaluate a training checkpoint (runs/<id>/last.pt; its EMA weights when it has "
        "them) instead of a manifest model, before deciding to export it",
    )
    parser.add_argument(
        "--images",
        nargs="*",
        default=None,
        help=f"held-out HR rasters or patterns (default: {SIM_DIR}/s752..s759, simulated)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real HiRISE part")
    parser.add_argument("--crops", type=int, default=4, help="crops per image")
    parser.add_argument("--edges", type=int, default=12, help="synthetic slanted edges")
    parser.add_argument("--json", help="also write the results to this JSON file")


def _held_out(args) -> list[tuple[str, np.ndarray]]:
    if args.images is not None:
        if not args.images:
            raise InputError("--images needs at least one raster or pattern (e.g. held/*.tif).")
        paths = []
        for pattern in args.images:
            hits = sorted(glob.glob(pattern))
            if not hits:
                raise InputError(
                    f"--images {pattern!r}: no file matches; give held-out HR rasters (e.g. "
                    f"folder/*.tif), or leave --images out to simulate them into {SIM_DIR}."
                )
            paths.extend(hits)
    else:
        from marsspec.training.superres.train import ensure_simulated

        ensure_simulated({"dir": SIM_DIR, "val_seeds": list(VAL_SEEDS), "size": 512})
        paths = [f"{SIM_DIR}/s{s}/hirise.tif" for s in VAL_SEEDS]
    images = [
        (p if args.images else Path(p).parent.name, _normalise(read_raster_band(p))) for p in paths
    ]
    if not args.no_real:
        from marsspec.training.superres.train import DEFAULT_DATA_ROOT

        real = read_real_hirise(DEFAULT_DATA_ROOT, (0.85, 1.0))
        if real is not None:
            images.append(("real-hirise-ESP_011472_1225", _normalise(real)))
    return images


def _crops(image: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    if min(image.shape) < CROP:
        return out  # too small to measure: run() says so if no image gives a crop
    for _ in range(50 * n):
        if len(out) == n:
            break
        r = rng.integers(0, image.shape[0] - CROP + 1)
        c = rng.integers(0, image.shape[1] - CROP + 1)
        crop = image[r : r + CROP, c : c + CROP]
        if np.isfinite(crop).all():
            out.append(crop)
    return out


def slanted_edge(rng: np.random.Generator, size: int = 128, spread: float = 0.5) -> np.ndarray:
    """An HR step edge at a random slant with ``spread`` px (0.5: sharper than any LR shows)."""
    from scipy.special import erf

    angle = np.radians(rng.uniform(2, 40)) * rng.choice([-1, 1])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) - size / 2 + 0.5
    dist = np.cos(angle) * xx + np.sin(angle) * yy - rng.uniform(-3, 3)
    lo, hi = sorted(rng.uniform(0.1, 0.9, 2))
    hi = max(hi, lo + 0.3)
    edge = lo + (hi - lo) * 0.5 * (1 + erf(dist / (spread * np.sqrt(2))))
    if rng.random() < 0.5:
        edge = edge.T
    return edge.astype(np.float32)


def edge_metrics(net, rng: np.random.Generator, n: int) -> dict[str, float]:
    """§3.1's edge factor on ``n`` sharp slanted edges, and the soft-edge rise ratio on ``n``
    edges of 1.0 px spread (``net``: LR tensor -> SR tensor)."""
    roi = (slice(32, 96), slice(32, 96))
    factors, rises_bic, rises_sr = [], [], []
    for _ in range(n):
        lr = degrade(torch.from_numpy(slanted_edge(rng))[None, None])
        with torch.inference_mode():
            sr = net(lr)[0, 0].numpy()
        bic = bicubic_up(lr)[0, 0].numpy()
        r_bic, r_sr = rise_distance(bic[roi]), rise_distance(sr[roi])
        rises_bic.append(r_bic)
        rises_sr.append(r_sr)
        factors.append(r_bic / r_sr)
    soft_ratios = []
    for _ in range(n):
        hr = slanted_edge(rng, spread=1.0)
        with torch.inference_mode():
            sr = net(degrade(torch.from_numpy(hr)[None, None]))[0, 0].numpy()
        soft_ratios.append(rise_distance(sr[roi]) / rise_distance(hr[roi]))
    return {
        "sr_edge_rise_bicubic_px": float(np.mean(rises_bic)),
        "sr_edge_rise_sr_px": float(np.mean(rises_sr)),
        # Median: one edge that an artefact breaks must not dominate the mean of ratios.
        "sr_edge_factor": float(np.median(factors)),
        "sr_edge_factor_mean": float(np.mean(factors)),
        "sr_edge_factor_std": float(np.std(factors)),
        "sr_soft_edge_rise_ratio": float(np.median(soft_ratios)),
    }


def _checkpoint_generator(path: str) -> tuple[torch.nn.Module, str]:
    from marsspec.training.superres.export import checkpoint_generator

    if not Path(path).exists():
        raise InputError(
            f"--checkpoint {path!r} does not exist; pass a runs/<id>/last.pt that `marsspec "
            "train` wrote with a superres config, or leave --checkpoint out to evaluate an "
            "exported model (--model)."
        )
    network, _ = checkpoint_generator(path)
    network.eval()
    network.set_noise(False)
    return network, f"checkpoint:{path}"


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, arguments that leave nothing to measure or nowhere to write."""
    for flag, value in (("--crops", args.crops), ("--edges", args.edges)):
        if value < 1:
            raise InputError(f"{flag} {value}: give at least 1 (the metrics average over them).")
    if args.json:
        from marsspec.core.io.safety import check_output_path

        check_output_path("--json", args.json, "json")


def _require_finite(results: dict[str, float | str]) -> None:
    bad = [k for k, v in results.items() if isinstance(v, float) and not np.isfinite(v)]
    if bad:
        raise InputError(
            f"eval sr: {', '.join(bad)} came out as {results[bad[0]]}: the held-out images "
            "gave nothing to measure; check --images."
        )


def run(args: argparse.Namespace) -> dict[str, float | str]:
    from marsspec.core.superres.model import load_generator

    _check_arguments(args)
    if getattr(args, "checkpoint", None):
        if args.fidelity is not None:
            raise InputError(
                "--checkpoint evaluates one training checkpoint; FIDELITY blends two exported "
                "models. Leave out --fidelity, or export the checkpoint first."
            )
        net, label = _checkpoint_generator(args.checkpoint)
    else:
        loaded = load_generator(args.model, args.fidelity, manifest_path=args.manifest)
        net, label = loaded.network, loaded.model_id
    rng = np.random.default_rng(7)
    gains_psnr, gains_ssim, sr_psnrs, bic_psnrs = [], [], [], []
    pixels, seconds = 0, 0.0
    held_out = _held_out(args)
    for _name, image in held_out:
        for crop in _crops(image, args.crops, rng):
            hr = torch.from_numpy(crop)[None, None]
            lr = degrade(hr)
            started = time.perf_counter()
            with torch.inference_mode():
                sr = net(lr)[0, 0].numpy()
            seconds += time.perf_counter() - started
            pixels += sr.size
            bic = bicubic_up(lr)[0, 0].numpy()
            b = 8  # skip the outer HR pixels: both methods guess beyond the crop there
            ref, sr_c, bic_c = crop[b:-b, b:-b], sr[b:-b, b:-b], bic[b:-b, b:-b]
            p_sr, p_bic = psnr(sr_c, ref, 1.0), psnr(bic_c, ref, 1.0)
            sr_psnrs.append(p_sr)
            bic_psnrs.append(p_bic)
            gains_psnr.append(p_sr - p_bic)
            gains_ssim.append(ssim(sr_c, ref, 1.0) - ssim(bic_c, ref, 1.0))
    if not gains_psnr:
        names = ", ".join(name for name, _ in held_out) or "none"
        raise InputError(
            f"No held-out crop of {CROP} px without nodata in the images ({names}); give HR "
            f"rasters at least {CROP} px on a side with --images."
        )
    edges = edge_metrics(net, rng, args.edges)
    results: dict[str, float | str] = {
        "sr_model": label,
        "sr_crops": float(len(gains_psnr)),
        "sr_psnr_db": float(np.mean(sr_psnrs)),
        "sr_bicubic_psnr_db": float(np.mean(bic_psnrs)),
        "sr_psnr_gain_db": float(np.mean(gains_psnr)),
        "sr_ssim_gain": float(np.mean(gains_ssim)),
        **edges,
        "sr_cpu_mpix_per_s": float(pixels / seconds / 1e6) if seconds else float("nan"),
    }
    _require_finite(results)
    if args.json:
        from marsspec.core.io.safety import atomic_output

        with atomic_output(args.json, kind="json") as temp:
            temp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
