"""Which Dask cluster a run uses: ``local[:N]`` starts one, ``tcp://HOST:PORT`` joins one.

``local:N`` is a :class:`distributed.LocalCluster` of N worker processes with one thread each
(the model already uses the cores it is given; a process per block keeps memory per worker
bounded and lets the scheduler rerun the blocks of a worker that dies). An address joins a
running scheduler (``dask scheduler`` on one machine, ``dask worker tcp://...`` on each other:
docs/scaling.md).

Inside QGIS (qgis_process, the desktop) ``sys.executable`` is the QGIS binary, not Python, and
worker processes started with it would start QGIS. The local cluster then spawns its workers
with the real interpreter (:func:`python_for_workers`) for as long as it lives.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from marsspec.core.errors import InputError, MissingDependencyError

LOCAL = "local"
ENV_PYTHON = "MARSSPEC_PYTHON"  # the interpreter for local workers, when not sys.executable


@dataclass
class Connection:
    """A connected client and what to tell the user about the cluster."""

    client: object  # distributed.Client
    address: str  # the scheduler's address (recorded in the outputs' tags)
    dashboard: str | None
    local_workers: int | None  # N for local:N, None for a remote scheduler

    @property
    def description(self) -> str:
        where = f"local cluster, {self.local_workers} worker(s)" if self.local_workers else ""
        return f"Dask scheduler {self.address}" + (f" ({where})" if where else "")


def parse_scheduler(text: str) -> tuple[str, int | None]:
    """``local`` / ``local:N`` -> (LOCAL, N or None); an address -> (address, None)."""
    spec = (text or "").strip()
    if spec == LOCAL or spec.startswith(LOCAL + ":"):
        count = spec[len(LOCAL) + 1 :]
        if not count:
            return LOCAL, None
        if not count.isdigit() or int(count) < 1:
            raise InputError(
                f"Dask scheduler {text!r}: write local:N with N >= 1 worker processes "
                "(e.g. local:2), or a scheduler address such as tcp://10.0.0.5:8786."
            )
        return LOCAL, int(count)
    if "://" in spec or (":" in spec and spec.rsplit(":", 1)[1].isdigit()):
        return spec, None
    raise InputError(
        f"Dask scheduler {text!r} is neither local[:N] nor an address; use local:2 for this "
        "machine or tcp://HOST:PORT for a running `dask scheduler`."
    )


def require_distributed() -> None:
    if importlib.util.find_spec("distributed") is None:
        raise MissingDependencyError(
            "Running on Dask needs the packages dask and distributed; install them with "
            "`python -m pip install dask distributed` (versions in requirements.txt)."
        )


def python_executable() -> str:
    """The Python interpreter for worker processes (not QGIS's binary).

    Inside QGIS the embedded interpreter's ``sys.prefix`` may even name another Python found on
    PATH (pyenv, say), so the libpython actually loaded decides first (``<prefix>/lib/...`` ->
    ``<prefix>/bin/python3.X``), then the standard library's prefix."""
    if os.environ.get(ENV_PYTHON):
        return os.environ[ENV_PYTHON]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    names = (version, f"python{sys.version_info.major}")
    for prefix in _libpython_prefix():  # an embedded Python (QGIS): its library's interpreter
        for name in names:
            if (prefix / "bin" / name).is_file():
                return str(prefix / "bin" / name)
    if Path(sys.executable).name.lower().startswith("python"):
        return sys.executable
    stdlib_prefix = Path(os.__file__).resolve().parents[2]
    for prefix in (stdlib_prefix, Path(sys.base_prefix), Path(sys.prefix)):
        for name in names:
            if (prefix / "bin" / name).is_file():
                return str(prefix / "bin" / name)
    raise MissingDependencyError(
        f"No Python interpreter found for the Dask workers; set {ENV_PYTHON} to one "
        f"(e.g. /usr/bin/{version})."
    )


def _libpython_prefix() -> list[Path]:
    """The prefix of the libpython this process embeds (Linux): ``/usr`` for Debian's QGIS,
    whatever ``sys.prefix`` says (it may be another Python found on PATH)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        if "/libpython3" in path:
            for parent in Path(path).parents:
                if parent.name in ("lib", "lib64"):
                    return [parent.parent]
    return []


@contextlib.contextmanager
def python_for_workers() -> Iterator[None]:
    """Spawn worker processes with the real Python while inside (QGIS's sys.executable is
    QGIS); restore the previous interpreter afterwards."""
    from multiprocessing import spawn

    python = python_executable()
    previous = spawn.get_executable()
    if previous == python:
        yield
        return
    multiprocessing.set_executable(python)
    try:
        yield
    finally:
        multiprocessing.set_executable(previous)


@contextlib.contextmanager
def connect(text: str, *, log: Callable[[str], object] | None = None) -> Iterator[Connection]:
    """A client on the cluster ``text`` names; a local cluster is closed on leaving."""
    require_distributed()
    from distributed import Client

    address, count = parse_scheduler(text)
    if address != LOCAL:
        try:
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise InputError(
                f"Could not reach the Dask scheduler at {address} ({exc}); start it with "
                "`dask scheduler` and check the address, port and firewall."
            ) from exc
        with client:
            slow = _workers_without_malloc_settings(client)
            if slow and log is not None:
                name, value = worker_environment_variable()
                log(
                    f"{len(slow)} Dask worker(s) run with Dask's malloc setting, which makes "
                    f'every block about 30 % slower; start `dask worker` with {name}="{value}" '
                    "in its environment (docs/scaling.md)."
                )
            yield Connection(client, client.scheduler.address, _dashboard(client), None)
        return
    from distributed import LocalCluster

    workers = count or max(1, os.cpu_count() or 1)
    dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
    if log is not None and python_executable() != sys.executable:
        log(f"worker processes run {python_executable()} (this process is {sys.executable})")
    with python_for_workers(), worker_malloc_settings(), _environ_kept():
        try:
            # restored once the workers have started; the outer one again at the end (a nanny
            # that restarts a lost worker writes them anew)
            with _environ_kept():
                cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=dashboard,
                    silence_logs=logging.ERROR,
                )
        except RuntimeError as exc:
            raise InputError(
                f"The local Dask workers could not start ({exc}) with {python_executable()}. "
                'From a Python script, run marsspec under `if __name__ == "__main__":` '
                "(worker processes re-import the main script); else start `dask scheduler` "
                f"and `dask worker` yourself and pass the address, or set {ENV_PYTHON}."
            ) from exc
        try:
            with Client(cluster) as client:
                connection = Connection(
                    client, cluster.scheduler_address, _dashboard(client), workers
                )
                if log is not None:
                    log(connection.description)
                yield connection
        finally:
            cluster.close()


TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"
# Worker processes keep freed memory for the next batch (see core/tiling/allocator.py): one
# heap for every thread (Dask runs tasks on a pool thread, whose own heap glibc caps at 64 MB
# blocks), no mmap for large blocks, the heap top trimmed only beyond 1 GiB.
WORKER_MALLOC_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_MAX_": "0",
    TRIM_ENV: str(1 << 30),
}


@contextlib.contextmanager
def worker_malloc_settings() -> Iterator[None]:
    """Spawn worker processes that reuse freed memory instead of Dask's malloc setting.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` so that pandas-style workloads hand
    freed memory back to the OS at once. A model's activations are freed and allocated again
    every batch, so the kernel then zeroes fresh pages for every forward pass. Measured on the
    2-core development machine, 2048 px spectral job in 4 blocks on ``local:1``: 40.9 s with
    Dask's setting, 33.0 s without it, 21 s with :data:`WORKER_MALLOC_ENV` (system time
    9.9 -> 0.7 s; docs/scaling.md). Peak memory per worker stayed 1.3 GB: the engine bounds it.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.update(WORKER_MALLOC_ENV)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        yield


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Undo what Dask's nannies write into this process's environment.

    A nanny sets its ``pre-spawn-environ`` variables in ``os.environ`` of the process that runs
    it (here: the driver, QGIS itself) before spawning a worker, and leaves them there. The
    driver would then pass the workers' malloc settings to every program it starts later, and
    marsspec's own engine would take them for the user's choice and keep glibc's defaults
    (core/tiling/allocator.py). The variables named in the config are restored on leaving.
    """
    import dask

    names = set(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    names.add("PYTHONHASHSEED")  # the nanny adds it to those variables when it is unset
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def worker_environment_variable() -> tuple[str, str]:
    """The variable (name, value) that gives workers started with ``dask worker`` the settings
    of :data:`WORKER_MALLOC_ENV` (Dask reads it into ``distributed.nanny.pre-spawn-environ``)."""
    return "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON", repr(WORKER_MALLOC_ENV)


def _malloc_env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in WORKER_MALLOC_ENV}


def _workers_without_malloc_settings(client) -> list[str]:
    """Addresses of the workers whose environment lacks :data:`WORKER_MALLOC_ENV`."""
    try:
        seen = client.run(_malloc_env)
    except Exception:  # an old or restricted worker: a hint is not worth failing the run
        return []
    return sorted(address for address, env in seen.items() if env != WORKER_MALLOC_ENV)


def _dashboard(client) -> str | None:
    if importlib.util.find_spec("bokeh") is None:
        return None
    with contextlib.suppress(Exception):
        return str(client.dashboard_link)
    return None
