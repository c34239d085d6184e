"""Run a Python scenario inside the real QGIS desktop application under Xvfb.

``qgis --code scenario.py`` starts the full QGIS main window (real ``iface``, layer tree,
Processing, plugin manager) with marsspec enabled in a throw-away profile; the scenario does
what a user would do, writes a JSON report to ``$MARSSPEC_SCENARIO_OUT`` and quits QGIS.
Used by the GUI tests and by ``make screenshots``. Needs Debian's ``xvfb`` (``xvfb-run``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
QGIS = shutil.which("qgis") or "/usr/bin/qgis"
XVFB_RUN = shutil.which("xvfb-run")


def available() -> str:
    """Empty string when the desktop can be started here, else the reason it cannot."""
    if not Path(QGIS).exists():
        return "the QGIS desktop binary (Debian package qgis) is not installed"
    if not XVFB_RUN:
        return "xvfb-run (Debian package xvfb) is not installed"
    return ""


def _profile(root: Path) -> tuple[Path, Path]:
    # --profiles-path P keeps the profile "default" in P/profiles/default
    settings = root / "profiles" / "default" / "QGIS"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "QGIS3.ini").write_text(
        "[PythonPlugins]\nmarsspec=true\n[qgis]\nshowTips322=false\n",
        encoding="utf-8",
    )
    plugins = root / "plugins"
    plugins.mkdir(exist_ok=True)
    link = plugins / "marsspec"
    if not link.exists():
        link.symlink_to(REPO_ROOT, target_is_directory=True)
    return root, plugins


def run_scenario(
    scenario: Path,
    work: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 150,
    screen: str = "1600x1000x24",
) -> dict:
    """Run ``scenario`` in QGIS; return its JSON report (AssertionError with the log if none)."""
    import sysconfig

    work.mkdir(parents=True, exist_ok=True)
    profiles, plugins = _profile(work / "qgis")
    runtime = work / "runtime"
    runtime.mkdir(exist_ok=True)
    runtime.chmod(0o700)
    report = work / "scenario.json"
    report.unlink(missing_ok=True)
    site = sysconfig.get_paths()["purelib"]
    # QGIS desktop must not inherit the headless settings (offscreen Qt, the test profile)
    dropped = ("QT_QPA", "PYTHON", "XDG_", "QGIS_")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    full_env.update(
        PYTHONNOUSERSITE="1",
        PYTHONPATH=os.pathsep.join([str(plugins), site]),
        PROJ_DATA="/usr/share/proj",
        QGIS_PLUGINPATH=str(plugins),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(work / "config"),
        XDG_DATA_HOME=str(work / "data"),
        MARSSPEC_SCENARIO_OUT=str(report),
    )
    full_env.update(env or {})
    command = [
        XVFB_RUN, "-a", "-s", f"-screen 0 {screen}",
        QGIS, "--profiles-path", str(profiles), "--nologo", "--noversioncheck",
        "--code", str(scenario),
    ]  # fmt: skip
    # own session: on a timeout the whole group (xvfb-run, Xvfb, QGIS) is ended, not just
    # xvfb-run, so no QGIS is left running behind a failed test
    process = subprocess.Popen(
        command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    completed = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    (work / "qgis.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if not report.exists():
        raise AssertionError(
            f"QGIS wrote no scenario report (exit {completed.returncode}; full log in "
            f"{work / 'qgis.log'}):\n"
            f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
        )
    result = json.loads(report.read_text(encoding="utf-8"))
    result["_log"] = (completed.stdout + completed.stderr)[-4000:]
    return result
