"""The console command works with no environment set by hand."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_every_command_has_help(capsys):
    for name in COMMANDS:
        try:
            main([name, "--help"])
        except SystemExit as exit:
            assert exit.code == 0, name
        assert f"usage: marsspec {name}" in capsys.readouterr().out, name


# ---- progress (cli/progress.py) --------------------------------------------------------------
class Clock:
    """A clock the test moves by hand, so rates and ETAs are known numbers."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_progress_text_for_known_fractions_and_times():
    from marsspec.cli.progress import ProgressBar, render

    clock = Clock()
    bar = ProgressBar("predict", stream=io.StringIO(), terminal=True, now=clock)
    clock.t = 110.0  # 10 s of loading before the first patch: not part of the rate
    bar(0.0)
    clock.t = 150.0  # 60 % in 40 s: 1.5 %/s, 40 % left
    bar(0.6)
    assert bar.line(clock.t) == (
        "predict  60% |##############          | 0:00:50 elapsed, 1.5 %/s, ETA 0:00:26"
    )
    assert bar.line(clock.t, bar=False) == "predict  60% 0:00:50 elapsed, 1.5 %/s, ETA 0:00:26"
    # a CTX strip on a CPU: the rate per minute, the ETA in hours
    assert render("superres", 0.05, 300.0, 100 * 0.05 / 300.0, None) == (
        "superres   5% 0:05:00 elapsed, 1.0 %/min, ETA 1:35:00"
    )
    assert render("coregister", 0.0, 0.0, None, 4) == (
        "coregister   0% |    | 0:00:00 elapsed, -- %/s, ETA --:--:--"
    )
    assert render("predict", 1.0, 75.0, 1.4, 4) == (
        "predict 100% |####| 0:01:15 elapsed, 1.4 %/s, done"
    )


def test_progress_on_a_terminal_redraws_one_line_and_ends_it():
    from marsspec.cli.progress import ProgressBar

    clock, stream = Clock(), io.StringIO()
    bar = ProgressBar("predict", stream=stream, terminal=True, now=clock)
    for step in range(1, 101):
        clock.t += 0.5
        bar(step / 100)
    text = stream.getvalue()
    assert text.count("\r") > 10 and text.count("\n") == 1 and text.endswith("\n")
    assert "predict 100% |########################|" in text and "done" in text


def test_progress_line_is_ended_before_an_error_and_messages(capsys):
    from marsspec.cli.progress import Console, end_open_line

    clock, stream = Clock(), io.StringIO()
    with (
        pytest.raises(RuntimeError),
        Console("predict", stream=stream, terminal=True, now=clock) as c,
    ):
        clock.t += 1
        c.progress(0.3)
        c.warn("12 special pixels are nodata")  # clears the bar, prints a line
        clock.t += 1
        c.progress(0.4)
        raise RuntimeError("boom")
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""  # the bar's line was ended: an error starts on its own line
    shown = [line.split("\r")[-1] for line in lines]  # what is left on screen, line by line
    assert shown[0] == "warning: 12 special pixels are nodata", lines
    assert shown[1].startswith("predict  40% |#########"), lines
    assert "100%" not in stream.getvalue()  # a failure does not pretend to finish
    # what cli/main.py calls before printing an error, for a bar left open
    bar_stream = io.StringIO()
    other = Console("confidence", stream=bar_stream, terminal=True, now=clock)
    other.progress(0.5)
    end_open_line()
    assert bar_stream.getvalue().endswith("\n")


def test_progress_without_a_terminal_prints_a_line_every_ten_percent():
    from marsspec.cli.progress import ProgressBar

    clock, stream = Clock(), io.StringIO()
    bar = ProgressBar("predict", stream=stream, terminal=False, now=clock)
    for step in range(1001):
        clock.t += 0.01
        bar(step / 1000)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and "\r" not in stream.getvalue()
    assert lines[0].startswith("predict   0%") and lines[5].startswith("predict  50%")
    assert lines[-1].startswith("predict 100%") and lines[-1].endswith("done")


def test_quiet_console_prints_warnings_only():
    from marsspec.cli.progress import Console

    stream = io.StringIO()
    console = Console("predict", quiet=True, stream=stream, terminal=False)
    console.progress(0.5)
    console.info("using fp32")
    console.warn("3 pixels are nodata")
    console.close()
    assert stream.getvalue() == "warning: 3 pixels are nodata\n"


def test_predict_progress_and_quiet(tmp_path, capsys):
    """A real predict: progress lines on stderr (not a terminal here), none with --quiet."""
    import numpy as np

    from tests.conftest import write_mars_raster

    rng = np.random.default_rng(0)
    ctx = write_mars_raster(tmp_path / "ctx.tif", (0.1 + 0.3 * rng.random((300, 300))).astype("f4"))
    common = [str(ctx), "--device", "cpu", "--batch-size", "1"]
    assert main(["predict", *common[:1], str(tmp_path / "a.tif"), *common[1:]]) == 0
    captured = capsys.readouterr()
    progress = [line for line in captured.err.splitlines() if line.startswith("predict ")]
    assert 1 <= len(progress) <= 11, captured.err
    assert progress[-1].startswith("predict 100%") and "%/" in progress[-1]
    assert "output=" in captured.out and "predict " not in captured.out

    assert main(["predict", *common[:1], str(tmp_path / "b.tif"), *common[1:], "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "%" not in captured.err, captured.err
    assert "output=" in captured.out
