"""Run /usr/bin/qgis_process.bin in a subprocess with an isolated profile (tests only)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

QGIS_PROCESS = os.environ.get("MARSSPEC_QGIS_PROCESS", "/usr/bin/qgis_process.bin")
REPO_ROOT = Path(__file__).resolve().parent.parent


def venv_site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def profile_env(profile: Path, plugin_dir: Path, pythonpath: list[str]) -> dict[str, str]:
    """An environment whose QGIS profile lives under ``profile`` and finds plugins in
    ``plugin_dir``; ``pythonpath`` is exactly what the embedded Python gets beyond its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "QGIS_", "PYTHON"))
    }
    runtime = profile / "runtime"
    for sub in ("data", "config"):
        (profile / sub).mkdir(parents=True, exist_ok=True)
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env.update(
        XDG_DATA_HOME=str(profile / "data"),
        XDG_CONFIG_HOME=str(profile / "config"),
        XDG_RUNTIME_DIR=str(runtime),
        QGIS_PLUGINPATH=str(plugin_dir),
        PYTHONPATH=os.pathsep.join(pythonpath),
        PYTHONNOUSERSITE="1",
        QT_QPA_PLATFORM="offscreen",
        PROJ_DATA="/usr/share/proj",
    )
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def run_json(args: list[str], env: dict[str, str]) -> dict:
    """Run an algorithm with --json and return the parsed document; fail with its output."""
    completed = run([*args, "--json"], env)
    if completed.returncode != 0:
        raise AssertionError(
            f"qgis_process {' '.join(args)} exited {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return json.loads(completed.stdout[completed.stdout.index("{") :])


def enable_plugin(env: dict[str, str]) -> None:
    completed = run(["plugins", "enable", "marsspec"], env)
    if completed.returncode != 0:
        raise AssertionError(f"plugins enable failed:\n{completed.stdout}\n{completed.stderr}")
