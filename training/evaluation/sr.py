"""`marsspec eval sr`: super-resolution gains over bicubic x4 on the TEST split.

The images are the fixed splits of training/splits/ (issue 17): real HiRISE crops of
observations never used for training or for choosing a checkpoint, and simulated HiRISE-like
scenes of test seeds; ``--split val`` scores what choices may look at instead, ``--images`` any
HR rasters. Every image is cut into the same evaluation windows, degraded by each LR family of
``training.superres.degrade.FAMILIES`` in turn (the paper's Gaussian blur + bicubic /4, plain
antialiased and aliased bicubic, noise, JPEG, column stripes, sub-pixel shift),
super-resolved, and compared with the HR truth against bicubic x4: per data set and family,
``psnr_gain_db``, ``ssim_gain``, ``gain_positive_fraction`` (images with a positive mean gain),
and the artefact measures of :mod:`marsspec.core.metrics.sr_artefacts`: ``direction_ratio``
(diagonal/axis energy of SR - bicubic over that of HR - bicubic; 1 = no preferred direction)
and ``flat_detail_ratio`` (detail added on the smoothest 20 % of patches over the truth's).
The unprefixed ``sr_*`` keys repeat the headline: the first data set (real if present), paper
family.

``sr_edge_factor`` is paper 002 §3.1's slanted-edge measure: the 10-90 % rise of the
bicubic-upscaled input divided by that of the SR image (median over edges; mean and spread
printed too), on synthetic slanted step edges (angles 2-40 degrees, HR edge spread 0.5 px) with
the paper's degradation. A larger factor is not always better: ``sr_soft_edge_rise_ratio`` is
the SR rise over the TRUE rise on softer edges (HR spread 1.0 px), 1 when SR restores them
faithfully and below 1 when it makes them sharper than they are.
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from marsspec.core.errors import InputError
from marsspec.core.metrics.edge import rise_distance
from marsspec.core.metrics.image import psnr, ssim
from marsspec.core.metrics.sr_artefacts import DirectionTally, FlatTally
from marsspec.training.superres.data import _normalise, read_grey_crop, read_raster_band
from marsspec.training.superres.degrade import FAMILIES, Degradation, bicubic_up, degrade
from marsspec.training.superres.splits import real_crops, simulated_seeds

SIM_DIR = "/tmp/marsspec-sim/superres"
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
        help="HR rasters or patterns to score instead of the fixed splits (default: the real "
        "HiRISE crops and simulated scenes of --split)",
    )
    parser.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="which fixed split to score (training/splits/): test (reported numbers, never used "
        "to choose anything) or val (what checkpoint and recipe choices may look at)",
    )
    parser.add_argument(
        "--degradations",
        default="all",
        help=f"comma-separated LR families to score one by one: {', '.join(FAMILIES)} (all)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real HiRISE crops")
    parser.add_argument("--crops", type=int, default=4, help="crops per image")
    parser.add_argument("--edges", type=int, default=12, help="synthetic slanted edges")
    parser.add_argument("--json", help="also write the results to this JSON file")


def _datasets(args) -> dict[str, list[tuple[str, np.ndarray]]]:
    """``{data set: [(image name, normalised HR image)]}``: the given rasters, else the real
    HiRISE crops and the simulated scenes of ``--split`` (real first: the headline)."""
    if args.images is not None:
        if not args.images:
            raise InputError("--images needs at least one raster or pattern (e.g. held/*.tif).")
        paths = []
        for pattern in args.images:
            hits = sorted(glob.glob(pattern))
            if not hits:
                raise InputError(
                    f"--images {pattern!r}: no file matches; give held-out HR rasters (e.g. "
                    "folder/*.tif), or leave --images out to evaluate the fixed splits."
                )
            paths.extend(hits)
        return {"given": [(p, _normalise(read_raster_band(p))) for p in paths]}
    from marsspec.training.superres.train import DEFAULT_DATA_ROOT, ensure_simulated

    datasets: dict[str, list[tuple[str, np.ndarray]]] = {}
    if not args.no_real:
        crops = real_crops(DEFAULT_DATA_ROOT, args.split)
        if crops:
            datasets["real"] = [(path.stem, read_grey_crop(path)) for path in crops]
    seeds = simulated_seeds(args.split)
    ensure_simulated({"dir": SIM_DIR, "val_seeds": seeds, "size": 512})
    datasets["sim"] = [
        (f"s{seed}", _normalise(read_raster_band(f"{SIM_DIR}/s{seed}/hirise.tif")))
        for seed in seeds
    ]
    return datasets


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


@dataclass
class _Scores:
    """One (data set, degradation family): per-crop PSNRs and the pooled artefact tallies."""

    sr_psnr: list[float] = field(default_factory=list)
    bicubic_psnr: list[float] = field(default_factory=list)
    ssim_gain: list[float] = field(default_factory=list)
    image_gains: dict[str, list[float]] = field(default_factory=dict)
    direction: DirectionTally = field(default_factory=DirectionTally)
    flat: FlatTally = field(default_factory=FlatTally)
    pixels: int = 0
    seconds: float = 0.0

    def add(self, image: str, sr: np.ndarray, bicubic: np.ndarray, hr: np.ndarray) -> None:
        p_sr, p_bic = psnr(sr, hr, 1.0), psnr(bicubic, hr, 1.0)
        self.sr_psnr.append(p_sr)
        self.bicubic_psnr.append(p_bic)
        self.ssim_gain.append(ssim(sr, hr, 1.0) - ssim(bicubic, hr, 1.0))
        self.image_gains.setdefault(image, []).append(p_sr - p_bic)
        self.direction.add(sr, bicubic, hr)
        self.flat.add(sr, bicubic, hr)

    def keys(self, prefix: str) -> dict[str, float]:
        gains = np.asarray(self.sr_psnr) - np.asarray(self.bicubic_psnr)
        per_image = [float(np.mean(g)) for g in self.image_gains.values()]
        return {
            f"{prefix}crops": float(len(gains)),
            f"{prefix}psnr_db": float(np.mean(self.sr_psnr)),
            f"{prefix}bicubic_psnr_db": float(np.mean(self.bicubic_psnr)),
            f"{prefix}psnr_gain_db": float(np.mean(gains)),
            f"{prefix}ssim_gain": float(np.mean(self.ssim_gain)),
            # "> 0 on at least 90 % of test crops": the images (crops of the data set) whose
            # mean gain over their evaluation windows is positive
            f"{prefix}gain_positive_fraction": float(np.mean(np.asarray(per_image) > 0)),
            f"{prefix}direction_ratio": self.direction.ratio,
            f"{prefix}flat_detail_ratio": self.flat.ratio(),
        }


def _windows(images: list[tuple[str, np.ndarray]], n: int, seed: int):
    """The same HR evaluation windows for every degradation family (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    return [(name, crop) for name, image in images for crop in _crops(image, n, rng)]


def _score(net, windows, degradation: Degradation, seed: int) -> _Scores:
    rng = np.random.default_rng(seed)  # the noise of this family, same on every run
    scores = _Scores()
    b = 8  # skip the outer HR pixels: both methods guess beyond the crop there
    for name, crop in windows:
        hr = torch.from_numpy(crop)[None, None]
        lr = degradation.apply(hr, rng)
        started = time.perf_counter()
        with torch.inference_mode():
            sr = net(lr)[0, 0].numpy()
        scores.seconds += time.perf_counter() - started
        scores.pixels += sr.size
        bic = bicubic_up(lr)[0, 0].numpy()
        scores.add(name, sr[b:-b, b:-b], bic[b:-b, b:-b], crop[b:-b, b:-b])
    return scores


def _families(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAMILIES]
    if unknown or not names:
        raise InputError(
            f"--degradations {text!r}: use a comma-separated list of {', '.join(FAMILIES)} "
            "(or 'all')."
        )
    return names


def run(args: argparse.Namespace) -> dict[str, float | str]:
    from marsspec.core.superres.model import load_generator

    _check_arguments(args)
    families = list(FAMILIES) if args.degradations == "all" else _families(args.degradations)
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
    datasets = _datasets(args)
    results: dict[str, float | str] = {"sr_model": label, "sr_split": args.split}
    headline: _Scores | None = None  # the first data set's paper family (else its first)
    headline_family = "paper" if "paper" in families else families[0]
    pixels, seconds = 0, 0.0
    for data_name, images in datasets.items():
        windows = _windows(images, args.crops, seed=7)
        if not windows:
            names = ", ".join(name for name, _ in images) or "none"
            raise InputError(
                f"No evaluation crop of {CROP} px without nodata in the {data_name} images "
                f"({names}); give HR rasters at least {CROP} px on a side with --images."
            )
        for number, family in enumerate(families):
            scores = _score(net, windows, FAMILIES[family], seed=100 + number)
            results.update(scores.keys(f"sr_{data_name}_{family}_"))
            pixels += scores.pixels
            seconds += scores.seconds
            if headline is None and family == headline_family:
                headline = scores
    results["sr_data"] = next(iter(datasets))
    results.update(headline.keys("sr_"))
    edges = edge_metrics(net, np.random.default_rng(7), args.edges)
    results.update(edges)
    results["sr_cpu_mpix_per_s"] = float(pixels / seconds / 1e6) if seconds else float("nan")
    _require_finite(results)
    if args.json:
        from marsspec.core.io.safety import atomic_output

        with atomic_output(args.json, kind="json") as temp:
            temp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
