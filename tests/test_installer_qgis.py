"""The Install button's mechanism, for real, in headless QGIS: a QgsTask runs QGIS's Python's
pip (``--target``) for one tiny pinned package from the index, the folder goes on
``sys.path``, the module imports from it, and Uninstall takes it away; a cancelled install
leaves nothing importable."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from marsspec.core.dependencies import Requirement
from marsspec.core.installer import folder
from marsspec.core.installer.interpreter import find_python
from marsspec.core.installer.plan import InstallPlan

# A tiny pure-Python package (one module, 5 kB) that this environment does not have.
TINY = Requirement("first", "first==2.0.2")
PLAN = InstallPlan(requirements=(TINY,), needed_bytes=10_000_000)


def forget_tiny() -> None:
    sys.modules.pop(TINY.module, None)
    importlib.invalidate_caches()


def run_task(task, *, cancel_when_pip_runs: bool = False, limit_s: float = 120.0):
    """Hand the task to QGIS's task manager and process events until it has finished."""
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QCoreApplication

    done = []
    task.on_done = done.append
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + limit_s
    while not done and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if cancel_when_pip_runs and task.pip_started and not task.isCanceled():
            task.cancel()
        time.sleep(0.01)
    assert done, "the install task did not finish"
    return task


@pytest.fixture()
def target(tmp_path):
    forget_tiny()
    assert importlib.util.find_spec(TINY.module) is None  # else the test proves nothing
    path = tmp_path / "profile" / "marsspec" / folder.FOLDER_NAME
    yield path
    if str(path) in sys.path:
        sys.path.remove(str(path))
    forget_tiny()


def make_task(target: Path, tmp_path: Path):
    from marsspec.marsspec_plugin.installer_task import InstallTask

    return InstallTask(PLAN, target, str(find_python()), tmp_path / "install.log")


def test_install_import_uninstall_through_the_qgis_task(qgis_app, target, tmp_path):
    task = run_task(make_task(target, tmp_path))
    log = (tmp_path / "install.log").read_text()
    assert task.outcome is not None, task.error + "\n" + log
    assert "--target" in log and "first==2.0.2" in log
    assert folder.state(target) == "ready" and folder.leftovers(target) == []
    assert str(target) in sys.path

    module = importlib.import_module(TINY.module)
    assert Path(module.__file__).resolve().is_relative_to(target.resolve())
    assert module.first([0, None, 3]) == 3  # the real package, working

    assert folder.uninstall(target)
    forget_tiny()
    assert not target.exists() and str(target) not in sys.path
    assert importlib.util.find_spec(TINY.module) is None


def test_cancelled_install_leaves_nothing_importable(qgis_app, target, tmp_path):
    task = run_task(make_task(target, tmp_path), cancel_when_pip_runs=True)
    assert task.cancelled and task.outcome is None, task.error
    assert "cancelled" in task.error
    assert not target.exists() and folder.leftovers(target) == []
    assert str(target) not in sys.path
    assert importlib.util.find_spec(TINY.module) is None


def test_failed_install_keeps_the_earlier_one_and_says_why(qgis_app, target, tmp_path):
    target.mkdir(parents=True)
    (target / "kept.py").write_text("")
    folder.write_marker(target, folder.marker_payload(["kept==1"], "cpu"))
    dead = InstallPlan(
        requirements=(TINY,),
        index_url="http://127.0.0.1:9/simple",  # nothing listens there
        needed_bytes=10_000_000,
        retries=0,
        pip_timeout_s=2,
    )
    from marsspec.marsspec_plugin.installer_task import InstallTask

    task = run_task(InstallTask(dead, target, str(find_python()), tmp_path / "install.log"))
    assert task.outcome is None and not task.cancelled
    assert "could not reach the package index" in task.error, task.error
    assert folder.state(target) == "ready" and (target / "kept.py").is_file()
    assert folder.leftovers(target) == []
