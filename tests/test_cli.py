"""The console command works with no environment set by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from marsspec.cli.main import COMMANDS, main

VENV_BIN = Path(sys.executable).parent


def bare_env() -> dict[str, str]:
    """What a user's fresh shell has: no PYTHONPATH, no PROJ_DATA, no QGIS variables."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}


def test_console_script_lists_subcommands():
    completed = subprocess.run(
        [str(VENV_BIN / "marsspec"), "--help"], env=bare_env(), capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    for name in ("describe", "check-deps", "simulate"):
        assert name in completed.stdout


def test_python_dash_m_describe_json(mars_raster):
    completed = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "marsspec", "describe", "--json", str(mars_raster)],
        env=bare_env(),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["crs_body"] == "Mars" and report["width"] == 53


def test_errors_are_one_clear_line(tmp_path, capsys):
    code = main(["describe", str(tmp_path / "missing.tif")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("marsspec describe: error:") and "check the path" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "describe" in capsys.readouterr().out


def test_every_command_module_has_the_contract():
    import importlib

    for name, (module_name, _summary) in COMMANDS.items():
        if name == "simulate":
            continue  # provided by the simulator issue; tested there
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name
