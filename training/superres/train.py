"""Two-stage MARSGAN training (paper 002 §2.4), resumable, CPU or CUDA.

Stage ``psnr``: generator alone, L1 content loss (Eq. 8). Stage ``gan``: initialised from the
PSNR checkpoint, generator loss ``gamma*phi54 + (1-gamma)*phi22 + lambda*RaGAN + eta*MSE``
(Eq. 12; lambda 5e-3, gamma 0.5, eta 0.5), discriminator loss Eq. 10. Without VGG19 weights the
MSE term's gradient is ~20x weaker than RaGAN's (measured) and cannot hold the GAN to the data;
``content_loss: l1`` (eta 1) is then the anchor. Adam (0.9, 0.999),
learning rate halved at each milestone. Milestones are fractions of the run measured by steps
or by the time budget, whichever is further along, so a time-boxed run still anneals.

``<out_dir>/last.pt`` holds everything needed to continue (networks, optimisers, step, elapsed
time, sampler state); running the same config again resumes. ``best.pt`` (PSNR stage: best
held-out PSNR; GAN stage: the last state) is what ``export`` reads. With ``ema_decay`` a
moving average of the generator's weights is kept as well (BasicSR's ``net_g_ema``); it is
what validation judges and what ``export`` and ``eval sr --checkpoint`` use.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from marsspec.core.devices import resolve_device
from marsspec.core.errors import InputError, MarsspecError
from marsspec.core.metrics.image import psnr
from marsspec.core.models.manifest import load_manifest, read_weights, sha256_file
from marsspec.core.models.marsgan import build_generator, count_parameters
from marsspec.training.checkpoints import RunFolder, first_line, load_checkpoint
from marsspec.training.config_schema import check_fields, limits
from marsspec.training.superres.data import CropSampler, load_images
from marsspec.training.superres.degrade import bicubic_up
from marsspec.training.superres.discriminator import VGGDiscriminator
from marsspec.training.superres.losses import (
    build_perceptual,
    gradient_loss,
    l1_loss,
    mse_loss,
    ragan_discriminator_loss,
    ragan_generator_loss,
)

log = logging.getLogger("marsspec.training")
CONTENT_LOSSES = {"mse": mse_loss, "l1": l1_loss}
DEGRADATION_MODES = ("paper", "mix")
DEFAULT_DATA_ROOT = str(Path(__file__).resolve().parents[3] / "shared" / "data")


@dataclass
class SimulateSpec:
    """``simulate:``: HiRISE-like scenes generated (once) into ``dir``."""

    dir: str | None = None
    seeds: list[int] = field(default_factory=list)
    val_seeds: list[int] = field(default_factory=list)
    size: int = field(default=512, metadata=limits(low=16))

    def __post_init__(self) -> None:
        if (self.seeds or self.val_seeds) and not self.dir:
            raise InputError("simulate.seeds needs simulate.dir: where to put the scenes.")


@dataclass
class RealHiriseSpec:
    """``real_hirise:``: rows (fractions) of the real HiRISE browse strip to train/validate on."""

    data_root: str | None = None
    rows: list[float] = field(default_factory=lambda: [0.0, 0.8], metadata=limits(low=0, high=1))
    val_rows: list[float] | None = field(default=None, metadata=limits(low=0, high=1))

    def __post_init__(self) -> None:
        for key in ("rows", "val_rows"):
            rows = getattr(self, key)
            if rows is not None and (len(rows) != 2 or rows[0] >= rows[1]):
                raise InputError(
                    f"real_hirise.{key} {rows} must be [start, stop] fractions of the strip's "
                    "rows, start < stop, e.g. [0.0, 0.8]."
                )


@dataclass
class RealCropsSpec:
    """``real_crops:``: the real HiRISE crops of ../shared/data/hirise_deeplandforms, by the
    fixed observation splits of training/splits/ (train for weights, val for choosing)."""

    data_root: str | None = None
    split: str = field(default="train", metadata=limits(choices=("train",)))
    val_split: str | None = field(default="val", metadata=limits(choices=("val",)))
    # replace isolated outlier pixels of the TRAIN crops by their 3x3 median: the "print"
    # JPEGs carry dark/bright single-pixel dots that a GAN otherwise learns to paint
    clean_impulses: bool = False


@dataclass
class GeneratorSpec:
    """``generator:``: MARSGAN generator options (core/models/marsgan.py)."""

    in_channels: int = field(default=1, metadata=limits(low=1))
    out_channels: int = field(default=1, metadata=limits(low=1))
    nf: int = field(default=64, metadata=limits(low=1))
    gc: int = field(default=32, metadata=limits(low=1))
    n_blocks: int = field(default=23, metadata=limits(low=1))
    recon_features: int = field(default=16, metadata=limits(low=1))
    bicubic_skip: bool = False


@dataclass
class SuperresTrainConfig:
    """A MARSGAN run; the field types and their ``limits`` are the schema every config is
    checked against (training/config_schema.py)."""

    id: str = "marsgan-psnr"
    task: str = field(default="superres", metadata=limits(choices=("superres",)))
    stage: str = field(default="psnr", metadata=limits(choices=("psnr", "gan")))
    out_dir: str = "runs/marsgan-psnr"
    # {dir, seeds, val_seeds, size}
    simulate: dict[str, Any] = field(default_factory=dict, metadata=limits(schema=SimulateSpec))
    hr_patterns: list[str] = field(default_factory=list)
    val_patterns: list[str] = field(default_factory=list)
    # {data_root, rows: [0.0, 0.8], val_rows: [0.85, 1.0]}
    real_hirise: dict[str, Any] | None = field(default=None, metadata=limits(schema=RealHiriseSpec))
    # {data_root, split: train, val_split: val}: real crops by observation (issue 17)
    real_crops: dict[str, Any] | None = field(default=None, metadata=limits(schema=RealCropsSpec))
    generator: dict[str, Any] = field(
        default_factory=lambda: {"nf": 64, "gc": 32, "n_blocks": 23},
        metadata=limits(schema=GeneratorSpec),
    )
    init_from: str | None = None  # a checkpoint (GAN stage: the PSNR one) or .safetensors
    hr_crop: int = field(default=128, metadata=limits(low=4, high=2048))
    batch_size: int = field(default=16, metadata=limits(low=1))
    lr: float = field(default=1e-4, metadata=limits(low=0.0))
    milestones: list[float] = field(
        default_factory=lambda: [0.1, 0.2, 0.6, 0.85], metadata=limits(low=0.0, high=1.0)
    )
    max_steps: int = field(default=600000, metadata=limits(low=1))
    max_minutes: float | None = field(default=None, metadata=limits(low=0.0))
    edge_fraction: float = field(default=0.15, metadata=limits(low=0.0, high=1.0))
    edge_spread: list[float] = field(default_factory=lambda: [0.3, 0.8])  # HR px, of those edges
    blur_sigma: float = field(default=1.2, metadata=limits(low=0.0))
    # "paper": Gaussian blur (blur_sigma) + bicubic /4; "mix": a random draw of every LR family
    # per crop (training/superres/degrade.py: PSF width, aliasing, noise, JPEG, stripes, shift)
    degradation: str = field(default="paper", metadata=limits(choices=DEGRADATION_MODES))
    # with "mix": this share of the crops keeps the paper's LR model exactly (the family the
    # targets are quoted on); the rest draw from the mix
    paper_fraction: float = field(default=0.0, metadata=limits(low=0.0, high=1.0))
    lambda_adv: float = field(default=5e-3, metadata=limits(low=0.0))
    gamma: float = field(default=0.5, metadata=limits(low=0.0, high=1.0))
    eta: float = 0.5
    # Eq. 12's; "l1" anchors the GAN stage when VGG19 is missing
    content_loss: str = field(default="mse", metadata=limits(choices=tuple(CONTENT_LOSSES)))
    gradient_weight: float = 0.0  # + weight * L1 of image gradients (sharper edges; not paper 002)
    vgg19_weights: str | None = None
    disc_nf: int = field(default=64, metadata=limits(low=1))
    noise: bool = True
    val_crops: int = field(default=32, metadata=limits(low=1))
    val_every: int = field(default=100, metadata=limits(low=1))
    log_every: int = field(default=20, metadata=limits(low=1))
    ema_decay: float | None = None  # e.g. 0.999 (BasicSR): also keep an average of the weights
    seed: int = 0
    device: str = "auto"
    threads: int | None = field(default=None, metadata=limits(low=1))

    @classmethod
    def from_dict(cls, data: dict) -> SuperresTrainConfig:
        """A config checked against the schema (keys, types, ranges), then the relations."""
        cfg = cls(**check_fields(cls, data, kind="superres config key"))
        if cfg.stage not in ("psnr", "gan"):
            raise InputError(f"stage {cfg.stage!r} must be 'psnr' or 'gan'.")
        if cfg.content_loss not in CONTENT_LOSSES:
            raise InputError(
                f"content_loss {cfg.content_loss!r} must be one of {sorted(CONTENT_LOSSES)}."
            )
        spread = cfg.edge_spread
        if not (
            isinstance(spread, (list, tuple))
            and len(spread) == 2
            and all(isinstance(v, (int, float)) for v in spread)
            and 0 < spread[0] <= spread[1]
        ):
            raise InputError(
                f"edge_spread {spread!r} must be [low, high] edge widths in HR pixels, "
                "0 < low <= high, e.g. [0.3, 1.5]."
            )
        if cfg.gradient_weight < 0:
            raise InputError(f"gradient_weight {cfg.gradient_weight} must be 0 or more.")
        if cfg.ema_decay is not None and not 0.0 < cfg.ema_decay < 1.0:
            raise InputError(f"ema_decay {cfg.ema_decay} must lie strictly between 0 and 1.")
        return cfg


def _initial_weights(source: str, generator: torch.nn.Module) -> dict:
    """Generator weights to start from: a training checkpoint (its weight average when it kept
    one) or exported ``.safetensors`` weights (fp16 restored to float32), so that a bundled
    model can be fine-tuned without the run that made it."""
    path = Path(source)
    hint = "give a runs/<id>/last.pt of this trainer or exported .safetensors weights"
    if not path.is_file() and path.suffix == ".safetensors":
        raise InputError(f"init_from {source!r} does not exist; {hint}.")
    if path.suffix == ".safetensors":
        try:
            state = read_weights(path)
        except MarsspecError:
            raise
        except Exception as exc:  # a file boundary: safetensors raises its own error types
            raise InputError(
                f"init_from {source!r} is not a readable safetensors file ({first_line(exc)}); "
                f"{hint}."
            ) from exc
    else:
        init = load_checkpoint(path, what="init_from", instead=hint)
        if init.get("task") != "superres":
            raise InputError(
                f"init_from {source!r} is not a super-resolution checkpoint; give a "
                "runs/<id>/last.pt of this trainer or exported .safetensors weights."
            )
        state = init.get("generator_ema") or init["generator"]
    expected = generator.state_dict()
    mismatched = sorted(
        k for k in expected if k not in state or state[k].shape != expected[k].shape
    ) + sorted(set(state) - set(expected))
    if mismatched:
        raise InputError(
            f"init_from {source!r} does not fit the configured generator (first differing "
            f"weights: {', '.join(mismatched[:3])}); set `generator:` to the architecture "
            "those weights were trained with."
        )
    return state


def _parent_model(source: str) -> dict:
    """The bundled model that exported weights ``source`` are (matched by sha256 in the
    manifest beside them): a fine-tune's lineage, kept in its checkpoints for the export."""
    path = Path(source)
    if path.suffix != ".safetensors":
        return {}
    digest = sha256_file(path)
    for entry in load_manifest(path.parent / "manifest.json").entries:
        if entry.sha256 == digest:
            data = entry.to_dict()
            keys = ("id", "sha256", "training_steps", "training_minutes")
            return {k: data.get(k) for k in keys}
    return {"weights": str(path), "sha256": digest}


class WeightAverage:
    """Exponential moving average of a network's float tensors (BasicSR's ``net_g_ema``).

    SR trained with Adam ends on a noisy point of the loss surface; the average of the last few
    hundred steps generalises better and is what validation, ``best.pt`` and export use.
    """

    def __init__(self, network: torch.nn.Module, decay: float, state: dict | None = None) -> None:
        self.decay = decay
        current = network.state_dict()
        source = state if state is not None else current
        # On the network's device (a resumed average is loaded onto the CPU first).
        self.state = {k: source[k].detach().to(v.device, copy=True) for k, v in current.items()}

    @torch.no_grad()
    def update(self, network: torch.nn.Module) -> None:
        for key, value in network.state_dict().items():
            if value.is_floating_point():
                self.state[key].lerp_(value.detach(), 1.0 - self.decay)
            else:
                self.state[key].copy_(value)

    def averaged_copy(self, network: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``network`` carrying the averaged weights (for validation)."""
        import copy

        twin = copy.deepcopy(network)
        twin.load_state_dict(self.state)
        return twin


def ensure_simulated(sim: dict) -> None:
    """Simulate the HiRISE-like HR scenes a config names (existing folders are reused)."""
    if not sim:
        return
    from marsspec.core.simulator import SITES, SceneConfig, simulate_scene

    sites = list(SITES)
    size = int(sim.get("size", 512))
    for seed in list(sim.get("seeds", [])) + list(sim.get("val_seeds", [])):
        out = Path(sim["dir"]) / f"s{int(seed):03d}"
        if (out / "hirise.tif").is_file():
            continue
        config = SceneConfig(
            seed=int(seed),
            size=size,
            site=sites[int(seed) % len(sites)],
            products=("hirise",),
            hirise_size=size,
        )
        simulate_scene(config, out)


def lr_factor(milestones: list, progress: float) -> float:
    return 0.5 ** sum(progress >= m for m in milestones)


def _val_set(cfg: SuperresTrainConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    real = None
    if cfg.real_hirise and cfg.real_hirise.get("val_rows"):
        real = {**cfg.real_hirise, "rows": cfg.real_hirise["val_rows"]}
    crops = _real_crop_images(cfg, "val_split")
    if not cfg.val_patterns and real is None and not crops:
        return None
    images = load_images(list(cfg.val_patterns), real, key="val_patterns", extra=crops)
    sampler = CropSampler(images, cfg.hr_crop, seed=12345, edge_fraction=0.0)
    return sampler.batch(cfg.val_crops)


def _real_crop_images(cfg: SuperresTrainConfig, key: str) -> list[np.ndarray]:
    """Normalised real HiRISE crops of the configured split (``key``: split or val_split)."""
    if not cfg.real_crops or not cfg.real_crops.get(key):
        return []
    from marsspec.training.superres.data import read_grey_crop
    from marsspec.training.superres.splits import real_crops

    root = cfg.real_crops.get("data_root") or DEFAULT_DATA_ROOT
    paths = real_crops(root, cfg.real_crops[key])
    if not paths:
        raise InputError(
            f"real_crops: no real HiRISE crop of split {cfg.real_crops[key]!r} under {root}; "
            "put ../shared/data beside the checkout or set real_crops.data_root."
        )
    images = [read_grey_crop(path) for path in paths]
    if key == "split" and cfg.real_crops.get("clean_impulses"):
        from marsspec.training.superres.data import remove_impulses

        images = [remove_impulses(image) for image in images]
    return images


def evaluate(generator, val, device) -> tuple[float, float]:
    """(SR PSNR, bicubic PSNR) on the held-out crops (peak = 1: the normalised range)."""
    lr, hr = val
    generator.eval()
    with torch.inference_mode():
        sr = torch.cat([generator(lr[i : i + 8].to(device)).cpu() for i in range(0, len(lr), 8)])
    generator.train()
    hr_np = hr.numpy()
    return psnr(sr.numpy(), hr_np, 1.0), psnr(bicubic_up(lr).numpy(), hr_np, 1.0)


def main(config: dict) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = SuperresTrainConfig.from_dict(config)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    # Checked now, created with the first checkpoint: a run that fails before then (no
    # images, a bad init_from) leaves no runs/ tree behind.
    run = RunFolder(cfg.out_dir)
    out = run.path
    ensure_simulated(cfg.simulate)
    real = None
    if cfg.real_hirise:
        real = {"data_root": DEFAULT_DATA_ROOT, **cfg.real_hirise}
        cfg.real_hirise = real
    sampler = CropSampler(
        load_images(list(cfg.hr_patterns), real, extra=_real_crop_images(cfg, "split")),
        cfg.hr_crop,
        seed=cfg.seed,
        edge_fraction=cfg.edge_fraction,
        blur_sigma=cfg.blur_sigma,
        edge_spread=cfg.edge_spread,
        degradation=cfg.degradation,
        paper_fraction=cfg.paper_fraction,
    )
    val = _val_set(cfg)

    gen_kwargs = {"in_channels": 1, "out_channels": 1, **cfg.generator}
    generator = build_generator(**gen_kwargs).to(device).set_noise(cfg.noise)
    generator.train()
    log.info("generator: %s, %d parameters", gen_kwargs, count_parameters(generator))
    g_opt = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    disc = d_opt = perceptual = None
    if cfg.stage == "gan":
        disc = VGGDiscriminator(1, cfg.disc_nf).to(device)
        d_opt = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
        perceptual = build_perceptual(cfg.vgg19_weights, cfg.gamma)
        if perceptual is not None:
            perceptual = perceptual.to(device)

    step, elapsed, best = 0, 0.0, -math.inf
    ema_state, parent = None, {}
    last = out / "last.pt"
    if last.is_file():
        fresh = "delete it (and best.pt) to start afresh, or set out_dir to a new folder"
        state = load_checkpoint(last, what="Resume checkpoint", instead=fresh)
        try:
            generator.load_state_dict(state["generator"])
            g_opt.load_state_dict(state["g_opt"])
            if disc is not None and state.get("disc"):
                disc.load_state_dict(state["disc"])
                d_opt.load_state_dict(state["d_opt"])
            sampler.set_state(state["sampler"])
            step, elapsed, best = state["step"], state["elapsed"], state.get("best", -math.inf)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise InputError(
                f"Resume checkpoint {str(last)!r} does not fit this config "
                f"({type(exc).__name__}: {first_line(exc)}); {fresh}."
            ) from exc
        log.info("resumed %s at step %d (%.1f min)", last, step, elapsed / 60)
        if cfg.ema_decay and state.get("generator_ema"):
            ema_state = state["generator_ema"]
        parent = state.get("fine_tuned_from") or {}
    elif cfg.init_from:
        generator.load_state_dict(_initial_weights(cfg.init_from, generator))
        parent = _parent_model(cfg.init_from)
        log.info("generator initialised from %s", cfg.init_from)
    # Without a saved average (a fresh run, or EMA switched on when resuming) it starts here.
    ema = WeightAverage(generator, cfg.ema_decay, ema_state) if cfg.ema_decay else None
    if ema is not None and ema_state is None and step:
        best = -math.inf  # best.pt so far holds raw weights; compare averages from now on

    def save(path: Path) -> None:
        run.save(
            {
                "generator": generator.state_dict(),
                "generator_ema": ema.state if ema is not None else None,
                "g_opt": g_opt.state_dict(),
                "disc": disc.state_dict() if disc is not None else None,
                "d_opt": d_opt.state_dict() if d_opt is not None else None,
                "sampler": sampler.state(),
                "step": step,
                "elapsed": elapsed,
                "best": best,
                "config": asdict(cfg),
                "generator_kwargs": gen_kwargs,
                "task": "superres",
                "fine_tuned_from": parent,
            },
            path.name,
        )

    def validated() -> torch.nn.Module:
        return generator if ema is None else ema.averaged_copy(generator)

    with run:  # a failure before the first checkpoint removes the folders it made
        budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        started = time.perf_counter() - elapsed
        running = []
        while step < cfg.max_steps and elapsed < budget:
            progress = max(step / cfg.max_steps, elapsed / budget)
            factor = lr_factor(cfg.milestones, progress)
            for opt in (g_opt, d_opt):
                if opt is not None:
                    for group in opt.param_groups:
                        group["lr"] = cfg.lr * factor
            lr, hr = (t.to(device) for t in sampler.batch(cfg.batch_size))
            sr = generator(lr)
            if cfg.stage == "psnr":
                g_loss = l1_loss(sr, hr)
            else:
                for p in disc.parameters():
                    p.requires_grad_(False)
                real_score = disc(hr).detach()
                fake_score = disc(sr)
                content = CONTENT_LOSSES[cfg.content_loss](sr, hr)
                g_loss = cfg.eta * content + cfg.lambda_adv * ragan_generator_loss(
                    real_score, fake_score
                )
                if perceptual is not None:
                    g_loss = g_loss + perceptual(sr, hr)
            if cfg.gradient_weight:
                g_loss = g_loss + cfg.gradient_weight * gradient_loss(sr, hr)
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            if ema is not None:
                ema.update(generator)
            if cfg.stage == "gan":
                for p in disc.parameters():
                    p.requires_grad_(True)
                d_loss = ragan_discriminator_loss(disc(hr), disc(sr.detach()))
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
            running.append(float(g_loss.detach()))
            step += 1
            elapsed = time.perf_counter() - started
            if step % cfg.log_every == 0:
                log.info(
                    "step %d  loss %.5f  lr %.2e  %.1f min",
                    step,
                    float(np.mean(running)),
                    cfg.lr * factor,
                    elapsed / 60,
                )
                running.clear()
            if val is not None and step % cfg.val_every == 0:
                sr_psnr, bic_psnr = evaluate(validated(), val, device)
                log.info("val step %d  psnr %.3f dB  bicubic %.3f dB", step, sr_psnr, bic_psnr)
                if cfg.stage == "gan" or sr_psnr > best:
                    best = sr_psnr if cfg.stage == "psnr" else best
                    save(out / "best.pt")
                save(last)
        if val is not None:
            sr_psnr, bic_psnr = evaluate(validated(), val, device)
            log.info("final psnr %.3f dB  bicubic %.3f dB", sr_psnr, bic_psnr)
            if cfg.stage == "gan" or sr_psnr > best:
                best = sr_psnr if cfg.stage == "psnr" else best
                save(out / "best.pt")
        else:
            save(out / "best.pt")
        save(last)
    log.info("done: %d steps in %.1f min -> %s", step, elapsed / 60, out)
    return 0
