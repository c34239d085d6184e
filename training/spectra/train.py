"""The training loop: seeded patches, masked loss, Adam + LR schedule, validation, checkpoints.

Resumable: ``<out_dir>/last.pt`` holds the model, optimiser, step, elapsed time and sampler
state; running the same config again continues from it. ``best.pt`` keeps the weights with the
best mean validation PCC; with no validation scenes (or none with a usable patch) it is the
last checkpoint, written with every ``last.pt``, so ``best.pt`` always exists after a run (the
summary's ``best`` says which). ``max_minutes`` bounds wall time; the LR schedule follows
whichever of step count and time budget is further along, so a time-boxed run still anneals.

Every checkpoint holds the training set's target under ``"target"`` (see
:func:`marsspec.training.spectra.data.target_statistics`): per band [mean, std] in the
target's units, the units, band names and wavelengths, which export copies into the manifest
so predictions come out in the target's units.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from marsspec.core.devices import resolve_device
from marsspec.core.errors import InputError, MarsspecError
from marsspec.core.metrics.spectral import cosine, pcc, rmse
from marsspec.core.models.bins import BinSpec, reconstruct
from marsspec.core.models.manifest import read_weights
from marsspec.core.models.spectral_net import build_spectral_net
from marsspec.training.checkpoints import RunFolder, first_line, load_checkpoint
from marsspec.training.spectra.config import TrainConfig, load_config
from marsspec.training.spectra.data import (
    PatchSampler,
    expand_scenes,
    grid_patches,
    load_pair,
    target_statistics,
)
from marsspec.training.spectra.losses import BinLoss, masked_mse

log = logging.getLogger("marsspec.training")


def ensure_simulated(cfg: TrainConfig) -> None:
    """Generate the simulator scenes a config names (once; existing folders are reused)."""
    sim = cfg.simulate
    if not sim:
        return
    from marsspec.core.simulator import SITES, SceneConfig, simulate_scene

    sites = list(sim.get("sites") or sorted(SITES))
    products = ("ctx", "crism", "dem") if cfg.dem_name else ("ctx", "crism")
    for key, seeds_key in (("train_dir", "seeds"), ("val_dir", "val_seeds")):
        folder = sim.get(key)
        for k, seed in enumerate(sim.get(seeds_key) or []):
            out = Path(folder) / f"s{seed:05d}"
            has_dem = not cfg.dem_name or (out / "dem.tif").is_file()
            if (out / "truth.json").is_file() and has_dem:
                continue  # (scenes are deterministic: a rerun for the DEM rewrites the same)
            site = sites[k % len(sites)] if key == "train_dir" else sites[(k + 2) % len(sites)]
            size = int(sim.get("size", 768) if key == "train_dir" else sim.get("val_size", 512))
            simulate_scene(
                SceneConfig(seed=int(seed), size=size, site=site, products=products), out
            )


def lr_factor(cfg: TrainConfig, progress: float, step: int) -> float:
    warm = min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
    if cfg.schedule == "constant":
        return warm
    if cfg.schedule == "step":
        return warm * (0.1 if progress > 0.7 else 1.0)
    return warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def choose_precision(cfg: TrainConfig, model, device, sampler) -> str:
    """bf16 autocast on the CPU only when a timed step says it is faster here."""
    if cfg.precision != "auto":
        return cfg.precision
    if device.type != "cpu":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    x = torch.from_numpy(sampler.batch(2)[0][:, :, :64, :64].copy())
    times = {}
    for precision in ("fp32", "bf16", "fp32", "bf16"):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            model(x).float().mean().backward()
        times[precision] = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return "bf16" if times["bf16"] < 0.8 * times["fp32"] else "fp32"


INIT_WEIGHTS_HINT = (
    "give exported weights (models/<id>.safetensors) or a runs/<id>/best.pt of "
    "`marsspec train`, or remove init_weights to start from scratch"
)


def read_initial_weights(path: Path) -> dict:
    """The weights ``init_weights`` names: an exported ``.safetensors`` file or a checkpoint."""
    if path.suffix != ".safetensors":
        state = load_checkpoint(path, what="init_weights", instead=INIT_WEIGHTS_HINT).get("model")
        if not isinstance(state, dict):
            raise InputError(
                f"init_weights {str(path)!r} is not a marsspec checkpoint (no 'model' entry); "
                f"{INIT_WEIGHTS_HINT}."
            )
        return state
    if not path.is_file():
        raise InputError(f"init_weights {str(path)!r} does not exist; {INIT_WEIGHTS_HINT}.")
    try:
        return read_weights(path)
    except MarsspecError:
        raise
    except Exception as exc:  # a file boundary: safetensors raises its own error types
        raise InputError(
            f"init_weights {str(path)!r} is not a readable safetensors file "
            f"({first_line(exc)}); {INIT_WEIGHTS_HINT}."
        ) from exc


def load_initial_weights(model: torch.nn.Module, path: Path) -> None:
    """Start from an exported ``.safetensors`` file or a ``marsspec train`` checkpoint."""
    state = read_initial_weights(path)
    own = model.state_dict()
    try:
        model.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as exc:
        raise InputError(
            f"init_weights {path.name} does not fit this config's architecture "
            f"({first_line(exc)}); use the weights of a model with the same arch, encoder, "
            "bands and bins."
        ) from exc
    log.info("initial weights from %s", path)


def select_trainable(model: torch.nn.Module, prefixes: list[str]) -> list[torch.nn.Parameter]:
    """Parameters to optimise: all, or those whose names start with one of ``prefixes``."""
    if not prefixes:
        return list(model.parameters())
    chosen = []
    for name, param in model.named_parameters():
        param.requires_grad_(any(name.startswith(p) for p in prefixes))
        if param.requires_grad:
            chosen.append(param)
    if not chosen:
        names = sorted({n.rsplit(".", 2)[0] for n, _ in model.named_parameters()})[-5:]
        raise InputError(f"train_only {prefixes} matches no parameter; names look like {names}.")
    log.info(
        "training %d of %d parameters (%s)",
        sum(p.numel() for p in chosen),
        sum(p.numel() for p in model.parameters()),
        ", ".join(prefixes),
    )
    return chosen


def training_pairs(cfg: TrainConfig) -> tuple[list, list]:
    """(training, validation) pairs of the config's scene folders; none is an error naming the
    patterns and how to get data (before any run folder exists)."""
    found = {}
    for key in ("scenes", "val_scenes"):
        patterns = getattr(cfg, key)
        folders = expand_scenes(patterns)
        if patterns and not folders:
            raise InputError(
                f"{key}: no folder matches {patterns}; each scene is a folder holding "
                f"{cfg.input_name} and {cfg.target_name}. Simulate some with the config's "
                "`simulate:` block (see training/configs/evc-regression.yaml) or "
                "`marsspec simulate`, or fix the paths."
            )
        found[key] = [load_pair(p, cfg) for p in folders]
    if not found["scenes"]:
        raise InputError(
            "scenes: the config lists no training scene folder; add `scenes: [folder/*]` "
            "(folders holding ctx.tif and crism_target.tif) or a `simulate:` block."
        )
    return found["scenes"], found["val_scenes"]


class Trainer:
    def __init__(self, cfg: TrainConfig, pairs=None, val_pairs=None) -> None:
        self.cfg = cfg
        # Checked now, created with the first checkpoint: a run that fails before then
        # leaves no runs/ tree behind.
        self.run = RunFolder(cfg.out_dir)
        self.out = self.run.path
        torch.manual_seed(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        if pairs is None:
            ensure_simulated(cfg)
            pairs, val_pairs = training_pairs(cfg)
        self.pairs, self.val_pairs = pairs, val_pairs or []
        self.sampler = PatchSampler(self.pairs, cfg, cfg.seed)
        self.target = target_statistics(self.pairs, list(cfg.target_wavelengths_nm or ()))
        if self.target:
            log.info(
                "training targets: %s (%s), per band mean/std %s over %d scene(s)",
                ", ".join(self.target["band_names"]),
                self.target["units"] or "units not given",
                ", ".join(f"{m:.4g}/{s:.4g}" for m, s in self.target["stats"]),
                self.target["scenes"],
            )
        self.model = build_spectral_net(**cfg.architecture_kwargs()).to(self.device)
        if cfg.init_weights:
            load_initial_weights(self.model, Path(cfg.init_weights))
        trainable = select_trainable(self.model, cfg.train_only)
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.bins = BinSpec.from_dict(cfg.bins) if cfg.n_bins else None
        if self.bins:
            self.loss = BinLoss(self.bins, cfg.class_weights, l1=cfg.loss == "l1ce")
        else:
            self.loss = masked_mse
        self.step = 0
        self.elapsed = 0.0
        self.best = -math.inf
        self.history: list[dict] = []
        self._resume()
        self.precision = choose_precision(cfg, self.model, self.device, self.sampler)

    def _resume(self) -> None:
        last = self.out / "last.pt"
        if not last.is_file():
            return
        fresh = "delete it (and best.pt) to start afresh, or set out_dir to a new folder"
        state = load_checkpoint(last, what="Resume checkpoint", instead=fresh)
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
            self.step, self.elapsed = state["step"], state["elapsed"]
            self.best, self.history = state["best"], state["history"]
            self.sampler.rng.bit_generator.state = state["sampler_rng"]
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise InputError(
                f"Resume checkpoint {str(last)!r} does not fit this config "
                f"({type(exc).__name__}: {first_line(exc)}); {fresh}."
            ) from exc
        log.info("resumed from %s at step %d", last, self.step)

    def _save(self, name: str) -> None:
        state = {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "best": self.best,
            "history": self.history,
            "sampler_rng": self.sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "config": self.cfg.to_dict(),
            "target": self.target,
        }
        self.run.save(state, name)

    def predict_values(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if self.bins:
            out = reconstruct(out.float().softmax(dim=1), torch.as_tensor(self.bins.centres()))
        return out.float()

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        preds, truths = [], []
        for pair in self.val_pairs:
            for x, y, m in grid_patches(pair, self.cfg.patch_size):
                p = self.predict_values(torch.from_numpy(x[None].copy()).to(self.device))[0]
                preds.append(p.cpu().numpy()[:, m])
                truths.append(y[:, m])
        self._train_mode()
        if not preds:
            return {}
        p, t = np.concatenate(preds, axis=1), np.concatenate(truths, axis=1)
        out: dict[str, float] = {}
        for b, lam in enumerate(self.cfg.target_wavelengths_nm):
            out[f"pcc_{lam:g}"] = pcc(p[b], t[b])
            out[f"cosine_{lam:g}"] = cosine(p[b], t[b])
            out[f"rmse_{lam:g}"] = rmse(p[b], t[b])
        out["pcc"] = float(np.mean([out[f"pcc_{lam:g}"] for lam in self.cfg.target_wavelengths_nm]))
        return out

    def budget_progress(self) -> float:
        by_steps = self.step / self.cfg.max_steps
        if self.cfg.max_minutes:
            return max(by_steps, self.elapsed / (60 * self.cfg.max_minutes))
        return by_steps

    def _train_mode(self) -> None:
        # a partly frozen network stays in eval mode: its frozen batch norms must keep their
        # statistics (the trainable heads have no batch norm or dropout)
        self.model.train(not self.cfg.train_only)

    def train(self) -> dict:
        """Train to the budget; a failure before the first checkpoint leaves no run folder."""
        with self.run:
            return self._train()

    def _train(self) -> dict:
        cfg = self.cfg
        self._train_mode()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=cfg.id, mininterval=5)
        running = None
        while self.budget_progress() < 1.0:
            started = time.perf_counter()
            factor = lr_factor(cfg, self.budget_progress(), self.step)
            for group in self.opt.param_groups:
                group["lr"] = cfg.lr * factor
            x, y, m = (
                torch.from_numpy(a).to(self.device) for a in self.sampler.batch(cfg.batch_size)
            )
            with torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
            ):
                out = self.model(x)
            loss = self.loss(out.float(), y, m)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.step += 1
            self.elapsed += time.perf_counter() - started
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", lr=f"{cfg.lr * factor:.2e}")
            if self.step % cfg.val_every == 0 or self.budget_progress() >= 1.0:
                metrics = self.validate()
                metrics.update(step=self.step, loss=running, minutes=self.elapsed / 60)
                self.history.append(metrics)
                log.info("step %d: %s", self.step, metrics)
                bar.write(
                    f"step {self.step}: val pcc {metrics.get('pcc', float('nan')):.4f} "
                    f"loss {running:.4f}"
                )
                if "pcc" not in metrics:  # no validation: the last checkpoint is the best
                    self._save("best.pt")
                elif metrics["pcc"] > self.best:
                    self.best = metrics["pcc"]
                    self._save("best.pt")
                self._save("last.pt")
        bar.close()
        validated = any("pcc" in h for h in self.history)
        best = (
            "best validation PCC"
            if validated
            else "last checkpoint (no validation scenes: best.pt = last.pt)"
        )
        if not validated:
            log.info("no validation scenes: best.pt is the last checkpoint (step %d)", self.step)
        elif not (self.out / "best.pt").is_file():  # validation PCC never finite (NaN)
            self._save("best.pt")
            best = "last checkpoint (the validation PCC was never a number)"
            log.info("validation PCC never finite: best.pt is the last checkpoint")
        summary = {
            "id": cfg.id,
            "steps": self.step,
            "minutes": self.elapsed / 60,
            "precision": self.precision,
            "best_val_pcc": self.best,
            "best": best,
            "target": self.target,
            "history": self.history,
        }
        self.run.write_text("summary.json", json.dumps(summary, indent=2))
        return summary


def main(config) -> int:
    """Entry point used by `marsspec train` (config: dict, path, or TrainConfig)."""
    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = Trainer(cfg).train()
    best = "validation" if summary["best"].startswith("best validation") else "last"
    print(
        f"trained={cfg.id} steps={summary['steps']} minutes={summary['minutes']:.1f} "
        f"best_val_pcc={summary['best_val_pcc']:.4f} best={best} out={cfg.out_dir}"
    )
    return 0
