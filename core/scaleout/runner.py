"""The driver: products -> prepare tasks -> block tasks -> mosaic tasks, on a Dask cluster.

The driver (the CLI or QGIS process) only submits tasks and keeps the books: the manifest of
finished blocks, progress, failures. Every heavy step runs on a worker: the whole-image
statistics (``prepare``), each block, the VRT and COG (``finish``). Paths must therefore be
readable and writable from every worker (one machine, or shared / object storage mounted at
the same path: docs/scaling.md).

A worker that dies loses only the blocks it was running: the scheduler reruns them elsewhere
(blocks are written through staged files, so a half-written block never counts). A product
that fails (an unreadable input, a bad band) is reported by name; the others go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from marsspec.core.errors import CancelledError, InputError, user_message
from marsspec.core.io.safety import TMP_TAG, OutputSet
from marsspec.core.scaleout.blocks import BlockReport, BlockTask, run_block
from marsspec.core.scaleout.cluster import Connection, connect
from marsspec.core.scaleout.layout import DEFAULT_BLOCK
from marsspec.core.scaleout.manifest import Manifest
from marsspec.core.scaleout.products import Prepared, kind_of, prepare

logger = logging.getLogger("marsspec.scaleout")

POLL_S = 0.5  # how often the driver checks cancel and redraws progress
SHARE_PREPARE, SHARE_FINISH = 0.05, 0.10  # of a product's progress; blocks get the rest


@dataclass(frozen=True)
class ScaleoutOptions:
    """``scheduler``: local, local:N or tcp://HOST:PORT; ``block``: block side in input
    pixels; ``cog``: also write one COG of each whole output (else the VRT is the output);
    ``threads``: torch threads per worker (default: cores / N for local:N, else unchanged)."""

    scheduler: str = "local"
    block: int = DEFAULT_BLOCK
    cog: bool = True
    threads: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.block, int) or self.block < 16:
            raise InputError(f"Block size {self.block!r} px must be a whole number >= 16.")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads={self.threads} must be >= 1.")


@dataclass
class ProductResult:
    """One input of the run: its outputs, or the error that stopped it."""

    name: str
    outputs: dict[str, Path] = field(default_factory=dict)
    error: str | None = None
    blocks: int = 0
    reused: int = 0
    layout: str = ""
    reports: list[BlockReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ScaleoutResult:
    """The run: every product's result, the scheduler it ran on, its wall time."""

    products: list[ProductResult]
    scheduler: str
    dashboard: str | None
    seconds: float
    workers: int = 0

    @property
    def failed(self) -> list[ProductResult]:
        return [p for p in self.products if p.error is not None]

    @property
    def outputs(self) -> dict[str, Path]:
        """The outputs of a one-product run (the job contract's ``outputs``)."""
        return dict(self.products[0].outputs) if len(self.products) == 1 else {}

    def summary(self) -> str:
        done = len(self.products) - len(self.failed)
        text = f"{done} of {len(self.products)} input(s) done in {self.seconds:.1f} s"
        if self.failed:
            text += "; failed: " + "; ".join(f"{p.name}: {p.error}" for p in self.failed)
        return text


def run_scaled(
    requests: Sequence,
    options: ScaleoutOptions,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> ScaleoutResult:
    """Run every request (PredictRequest, SuperresRequest in blocks; any other job request,
    e.g. CoregRequest, as one task) on the cluster ``options.scheduler`` names."""
    if not requests:
        raise InputError("No input to run; give at least one raster.")
    with connect(options.scheduler, log=log) as connection:
        return run_on(connection, requests, options, progress=progress, cancel=cancel, log=log)


# ---- tasks (run on the workers) ------------------------------------------------------------
def prepare_task(request, block: int) -> Prepared:
    return prepare(request, block)


def warm_task(modules: tuple[str, ...]) -> float:
    """Import what the blocks will need, on a worker that would otherwise wait idle.

    A fresh worker imports torch and the network libraries (about 2 s of CPU here) on its
    first block; the whole-image pass occupies one worker first, so the others do it then.
    Returns the seconds it took; an import that fails is left for the real task to report.
    """
    import importlib

    started = time.perf_counter()
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    return time.perf_counter() - started


def _warm_modules(requests: Sequence) -> tuple[str, ...]:
    kinds = {type(r).__name__ for r in requests}
    modules = ("torch", "marsspec.core.jobs")
    if "PredictRequest" in kinds:  # smp (and timm, torchvision) build the spectral networks
        modules += ("marsspec.core.spectral.job", "segmentation_models_pytorch")
    if "SuperresRequest" in kinds:
        modules += ("marsspec.core.superres.job",)
    return modules


def _warm_workers(client, requests: Sequence, run_id: str) -> list:
    """One :func:`warm_task` per worker now in the cluster (futures kept until the run ends)."""
    workers = sorted(client.scheduler_info(n_workers=-1).get("workers", {}))
    modules = _warm_modules(requests)
    return [
        client.submit(warm_task, modules, workers=[address], allow_other_workers=False,
                      pure=False, key=f"marsspec-warm-{i}-{run_id}")
        for i, address in enumerate(workers)
    ]  # fmt: skip


def block_task(task: BlockTask) -> BlockReport:
    from distributed import Event, get_worker

    worker = get_worker()
    topic = f"marsspec-progress-{task.run_id}"
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= POLL_S:
            last[0] = now
            worker.log_event(
                topic,
                {"product": task.product, "block": task.block.name, "fraction": float(fraction)},
            )

    event = Event(f"marsspec-cancel-{task.run_id}")
    checked = [0.0, False]

    def cancel() -> bool:
        now = time.monotonic()
        if now - checked[0] >= 1.0:
            checked[0], checked[1] = now, bool(event.is_set())
        return checked[1]

    report = run_block(task, progress=progress, cancel=cancel)
    return BlockReport(**{**report.__dict__, "worker": worker.address})


def finish_task(prepared: Prepared, tags: dict[str, str], cog: bool) -> dict[str, Path]:
    """The VRT (and COG) of each output, the browse product, stale staged files removed."""
    from marsspec.core.scaleout.mosaic import write_mosaic

    written: dict[str, Path] = {}
    names = [b.name for b in prepared.layout.blocks]
    for out in prepared.outputs:
        blocks = [out.block_path(name) for name in names]
        files = write_mosaic(
            blocks,
            out.vrt,
            out.path if cog else None,
            {**_first_block_tags(blocks), **tags},
            inputs=[prepared.source],
        )
        written[out.key] = files.get("COG", files["VRT"])
        written[f"{out.key}_VRT"] = files["VRT"]
        _remove_stale(out.blocks_dir, {p.name for p in blocks})
    browse = getattr(prepared.template, "browse", None)
    if browse and "OUTPUT" in written:
        target = Path(os.path.abspath(browse))
        written["BROWSE"] = _browse(target, written["OUTPUT_VRT"], prepared, tags)
    return written


def job_task(request):
    """Any job request as one task (co-registration pairs)."""
    from marsspec.core.jobs import run as run_job

    return run_job(request)


def _first_block_tags(blocks: Sequence[Path]) -> dict[str, str]:
    from marsspec.core.io.opening import open_raster

    for path in blocks:
        with open_raster(path) as src:
            tags = src.tags()
        if not tags.get("MARSSPEC_BLOCK_EMPTY"):
            return {k: v for k, v in tags.items() if not k.startswith("MARSSPEC_BLOCK")}
    return {}


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Staged block files a killed worker left behind, and blocks of an earlier layout of
    this output (another block size) that the new VRT does not use."""
    for path in folder.iterdir():
        staged = path.name.startswith(".") and TMP_TAG in path.name
        old_block = path.suffix == ".tif" and path.name.startswith("r") and path.name not in keep
        if staged or old_block:
            with contextlib.suppress(OSError):
                path.unlink()


def _browse(target: Path, vrt: Path, prepared: Prepared, tags: dict[str, str]) -> Path:
    from marsspec.core.io.opening import open_raster
    from marsspec.core.spectral.browse_writer import write_browse

    with open_raster(vrt) as src:
        descriptions = tuple(d or "" for d in src.descriptions)
        all_tags = src.tags()
    with OutputSet({"BROWSE": target}, inputs=[prepared.source]) as staged:
        write_browse(vrt, staged.temp("BROWSE"), {**all_tags, **tags}, descriptions)
    return target


# ---- the driver ------------------------------------------------------------------------------
class _Product:
    """The driver's books on one product."""

    def __init__(self, index: int, request) -> None:
        self.index = index
        self.request = request
        self.kind = _kind(request)
        self.result = ProductResult(Path(str(_input_of(request))).name)
        self.prepared: Prepared | None = None
        self.manifest: Manifest | None = None
        self.weights: dict[str, float] = {}  # block name -> share of the product's blocks
        self.fractions: dict[str, float] = {}  # block name -> fraction done
        self.stage = 0.0  # SHARE_PREPARE once prepared
        self.finished = False

    def progress(self) -> float:
        if self.finished:
            return 1.0
        if self.kind == "job":
            return 0.0
        blocks = sum(self.weights[n] * self.fractions.get(n, 0.0) for n in self.weights)
        return self.stage + (1 - SHARE_PREPARE - SHARE_FINISH) * blocks


def _kind(request) -> str:
    try:
        return kind_of(request)
    except InputError:
        return "job"


def _input_of(request):
    for name in ("input", "target", "reference"):
        if hasattr(request, name):
            return getattr(request, name)
    return type(request).__name__


def run_on(
    connection: Connection,
    requests: Sequence,
    options: ScaleoutOptions,
    *,
    progress: Callable[[float], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    log: Callable[[str], object] | None = None,
) -> ScaleoutResult:
    """Run ``requests`` through ``connection``'s client; see :func:`run_scaled`."""
    from distributed import Event

    started = time.perf_counter()
    client = connection.client
    say = _sayer(log)
    if connection.dashboard:
        say(f"Dask dashboard: {connection.dashboard}")
    run_id = uuid.uuid4().hex[:12]
    event = Event(f"marsspec-cancel-{run_id}", client=client)
    products = [_Product(i, r) for i, r in enumerate(requests)]
    live: dict[object, tuple[_Product, str, str]] = {}
    lock = threading.Lock()
    threads = options.threads or _default_threads(connection)

    def on_progress(message) -> None:
        _, payload = message
        with lock:
            product = products[int(payload["product"])]
            if product.fractions.get(payload["block"]) != 1.0:  # not a late message
                product.fractions[payload["block"]] = float(payload["fraction"])

    client.subscribe_topic(f"marsspec-progress-{run_id}", on_progress)
    for product in products:
        if product.kind == "job":
            future = client.submit(
                job_task, product.request, pure=False, key=f"marsspec-job-{product.index}-{run_id}"
            )
            live[future] = (product, "job", "")
        else:
            future = client.submit(
                prepare_task,
                product.request,
                options.block,
                pure=False,
                key=f"marsspec-prepare-{product.index}-{run_id}",
            )
            live[future] = (product, "prepare", "")
    warming = _warm_workers(client, requests, run_id)
    layout_tags = {"MARSSPEC_SCALEOUT_SCHEDULER": connection.address}

    def fail(product: _Product, error: BaseException | str) -> None:
        product.result.error = error if isinstance(error, str) else _message(error)
        product.finished = True
        say(f"{product.result.name}: failed: {product.result.error}")
        doomed = [f for f, (p, _, _) in live.items() if p is product]
        for f in doomed:
            live.pop(f, None)
        if doomed:
            client.cancel(doomed)

    def finish(product: _Product) -> None:
        tags = {**layout_tags, "MARSSPEC_SCALEOUT": _scaleout_tag(product.prepared, connection)}
        future = client.submit(
            finish_task,
            product.prepared,
            tags,
            options.cog,
            pure=False,
            key=f"marsspec-finish-{product.index}-{run_id}",
        )
        live[future] = (product, "finish", "")

    def prepared_ok(product: _Product, prepared: Prepared) -> None:
        product.prepared = prepared
        product.stage = SHARE_PREPARE
        product.result.notes.extend(prepared.notes)
        for note in prepared.notes:
            say(f"{product.result.name}: {note}")
        _check_mosaic_paths(prepared, options.cog)
        layout = prepared.layout
        product.result.layout = layout.describe()
        product.result.blocks = len(layout.blocks)
        total = sum(b.read_pixels for b in layout.blocks)
        product.weights = {b.name: b.read_pixels / total for b in layout.blocks}
        first = prepared.outputs[0]
        product.manifest = Manifest(first.blocks_dir, prepared.fingerprint())
        for out in prepared.outputs:
            out.blocks_dir.mkdir(parents=True, exist_ok=True)
        done = product.manifest.open(
            (b.name, [o.block_path(b.name) for o in prepared.outputs]) for b in layout.blocks
        )
        product.result.reused = len(done)
        for name in done:
            product.fractions[name] = 1.0
        say(
            f"{product.result.name}: {layout.describe()}"
            + (f"; {len(done)} finished block(s) reused ({product.manifest.path})" if done else "")
        )
        tags = {**layout_tags, "MARSSPEC_SCALEOUT": _scaleout_tag(prepared, connection)}
        pending = [b for b in layout.blocks if b.name not in done]
        for block in pending:
            task = BlockTask(str(product.index), prepared, block, tags, run_id, threads)
            future = client.submit(
                block_task,
                task,
                pure=False,
                key=f"marsspec-block-{product.index}-{block.name}-{run_id}",
            )
            live[future] = (product, "block", block.name)
        if not pending:
            finish(product)

    shown = 0.0
    try:
        while live:
            _check_cancel(cancel, event, client, live)
            done = _wait_some(list(live))
            for future in done:
                if future not in live:
                    continue
                product, stage, name = live.pop(future)
                if future.status != "finished":
                    fail(product, future.exception() if future.status == "error" else "cancelled")
                    continue
                try:
                    value = future.result()
                    if stage == "prepare":
                        prepared_ok(product, value)
                    elif stage == "block":
                        product.result.reports.append(value)
                        product.manifest.record(
                            name, seconds=round(value.seconds, 3), worker=value.worker
                        )
                        with lock:
                            product.fractions[name] = 1.0
                        if not any(p is product for p, _, _ in live.values()):
                            finish(product)
                    elif stage == "finish":
                        product.result.outputs = value
                        product.finished = True
                        say(f"{product.result.name}: done")
                    else:  # a whole job (co-registration)
                        product.result.outputs = dict(getattr(value, "outputs", {}) or {})
                        product.finished = True
                except (InputError, OSError) as exc:  # a driver-side check of this product
                    fail(product, exc)
            if progress is not None:
                with lock:  # never backwards (a block rerun after a lost worker starts at 0)
                    shown = max(shown, sum(p.progress() for p in products) / len(products))
                progress(shown)
    except BaseException:
        with contextlib.suppress(Exception):
            event.set()
            client.cancel(list(live))
        raise
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(f"marsspec-progress-{run_id}")
        with contextlib.suppress(Exception):
            client.cancel(warming)
    workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    return ScaleoutResult(
        [p.result for p in products],
        connection.address,
        connection.dashboard,
        time.perf_counter() - started,
        workers,
    )


def _wait_some(futures: list) -> list:
    from distributed import wait

    try:
        done, _ = wait(futures, timeout=POLL_S, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def _check_cancel(cancel, event, client, live) -> None:
    if cancel is not None and cancel():
        event.set()  # running blocks see it at their next batch
        client.cancel(list(live))
        raise CancelledError(
            "Cancelled; finished blocks are kept, and running the same command again "
            "resumes from them."
        )


def _check_mosaic_paths(prepared: Prepared, cog: bool) -> None:
    """The VRT must not be an input (an input mosaic named like the output, say)."""
    outputs = {f"{o.key} VRT": o.vrt for o in prepared.outputs}
    OutputSet(outputs, inputs=[prepared.source], kinds="mosaic")


def _scaleout_tag(prepared: Prepared, connection: Connection) -> str:
    import distributed

    return f"dask distributed {distributed.__version__}: {prepared.layout.describe()}"


def _default_threads(connection: Connection) -> int | None:
    if connection.local_workers:
        return max(1, (os.cpu_count() or 1) // connection.local_workers)
    return None


def _message(error: BaseException) -> str:
    text = user_message(error, None)
    return text.splitlines()[0] if text else type(error).__name__


def _sayer(log: Callable[[str], object] | None) -> Callable[[str], None]:
    def say(text: str) -> None:
        logger.info(text)
        if log is not None:
            log(text)

    return say
