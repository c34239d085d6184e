"""One install, start to finish, in the order that never leaves a half-installed set in use.

1. refuse early: no Python, no pip, not enough free space (clear messages, nothing written);
2. pip into a fresh staging folder beside the target, every line to the log;
3. on success: rename into place and write the marker last (folder.publish);
4. on failure or cancel: the staging folder is deleted; the previous install, if any, stays.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from marsspec.core.errors import CancelledError, DiskFullError
from marsspec.core.installer import folder
from marsspec.core.installer.pip_run import (
    classify_failure,
    index_reachable,
    pip_available,
    run_pip,
)
from marsspec.core.installer.plan import PYPI_INDEX, InstallPlan, pip_arguments


@dataclass(frozen=True)
class InstallOutcome:
    target: Path
    python: str
    specs: tuple[str, ...]
    torch_build: str


def check_free_space(where: Path, needed: int) -> None:
    free = shutil.disk_usage(where).free
    if free < needed:
        raise DiskFullError(
            f"Not enough free disk space in {str(where)!r}: {free / 1e9:.1f} GB free, the "
            f"packages need about {needed / 1e9:.1f} GB. Free some space and retry."
        )


def install(
    plan: InstallPlan,
    target: Path,
    python: str,
    *,
    log: Callable[[str], None],
    progress: Callable[[float], None] = lambda fraction: None,
    cancel: Callable[[], bool] = lambda: False,
    started: Callable = lambda process: None,
) -> InstallOutcome:
    """Install ``plan`` into ``target`` with ``python``; raises an InstallError subclass or
    CancelledError, after which nothing new is importable and any earlier install is intact."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder.clean_leftovers(target)
    log(f"QGIS's Python: {python}")
    pip_available(python, log)
    check_free_space(target.parent, plan.space_needed)
    staging = folder.new_staging(target)
    try:
        command = [python, *pip_arguments(plan, staging)]
        log("Running: " + " ".join(command))
        result = run_pip(command, log=log, progress=progress, cancel=cancel, started=started)
        if result.returncode != 0:
            index = plan.index_url or PYPI_INDEX
            down = "from versions: none" in result.output and not index_reachable(index)
            raise classify_failure(result.output, python, index_down=down)
        if cancel():
            raise CancelledError("The install was cancelled; nothing was installed.")
        payload = folder.marker_payload(plan.specs(), plan.torch_variant)
        folder.publish(staging, target, payload)
    finally:
        if staging.exists():
            folder.remove_tree(staging)
    progress(1.0)
    log(f"Installed into {target}")
    return InstallOutcome(target, python, tuple(plan.specs()), plan.torch_variant)
