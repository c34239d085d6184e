"""The installer's pure logic: QGIS's Python per platform, the pip commands, the packages
folder (staging, marker, publish, activation) and the messages for pip's failures."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from marsspec.core import dependencies
from marsspec.core.errors import (
    DiskFullError,
    InterpreterNotFoundError,
    NoNetworkError,
    PipMissingError,
)
from marsspec.core.installer import folder
from marsspec.core.installer.interpreter import find_python, interpreter_candidates
from marsspec.core.installer.job import check_free_space
from marsspec.core.installer.pip_run import classify_failure, pip_available, run_pip
from marsspec.core.installer.plan import (
    TORCH_CPU_INDEX,
    TORCH_CUDA_INDEX,
    InstallPlan,
    detect_variant,
    manual_command,
    pip_arguments,
)


# ---- QGIS's Python, per platform --------------------------------------------------------------
def test_linux_packages_python_is_under_the_prefix_not_the_qgis_binary():
    found = interpreter_candidates("/usr", "/usr/bin/qgis", "linux", (3, 11))
    assert found[0] == Path("/usr/bin/python3.11")
    assert Path("/usr/bin/qgis") not in found


def test_windows_osgeo4w_and_standalone_python_exe():
    for root in (r"C:\OSGeo4W", r"C:\Program Files\QGIS 3.34.4"):
        prefix = Path(root) / "apps" / "Python312"
        found = interpreter_candidates(
            prefix, Path(root) / "bin" / "qgis-bin.exe", "win32", (3, 12)
        )
        assert found[0] == prefix / "python.exe"
        assert not any(c.name.startswith("qgis") for c in found)


def test_macos_app_bundle_python_next_to_the_qgis_binary(tmp_path):
    macos = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    (macos / "bin").mkdir(parents=True)
    (macos / "bin" / "python3.12").write_text("")
    (macos / "QGIS").write_text("")
    prefix = tmp_path / "QGIS.app" / "Contents" / "Frameworks" / "Python.framework"
    found = find_python(prefix, macos / "QGIS", "darwin", (3, 12))
    assert found == macos / "bin" / "python3.12"


def test_no_python_found_is_one_clear_error(tmp_path):
    with pytest.raises(InterpreterNotFoundError, match="manual command"):
        find_python(tmp_path, tmp_path / "qgis", "linux", (3, 11))


def test_this_python_is_found():
    python = find_python()
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == str(tuple(sys.version_info[:2]))


# ---- the commands -----------------------------------------------------------------------------
def test_runtime_set_is_pinned_and_has_no_development_tools():
    specs = InstallPlan(variant="cuda", platform="linux").specs()
    assert "torch==2.14.1" in specs and "safetensors==0.8.0" in specs and "PyYAML==6.0.3" in specs
    assert not any(s.split("==")[0] in ("pytest", "ruff", "monai", "pytest-qgis") for s in specs)


def test_cpu_torch_comes_from_the_cpu_index_with_its_label():
    plan = InstallPlan(variant="cpu", platform="linux")
    words = pip_arguments(plan, Path("/t"))
    assert "torch==2.14.1+cpu" in words and "torchvision==0.29.1+cpu" in words
    assert words[words.index("--extra-index-url") + 1] == TORCH_CPU_INDEX


def test_cuda_torch_linux_from_pypi_windows_from_the_cuda_index():
    linux = pip_arguments(InstallPlan(variant="cuda", platform="linux"), Path("/t"))
    assert "torch==2.14.1" in linux and "--extra-index-url" not in linux
    windows = pip_arguments(InstallPlan(variant="cuda", platform="win32"), Path("/t"))
    assert windows[windows.index("--extra-index-url") + 1] == TORCH_CUDA_INDEX
    assert any(w.startswith("torch==2.14.1+cu") for w in windows)


def test_auto_follows_nvidia_smi_and_macos_has_one_build():
    assert detect_variant("linux", which=lambda name: "/usr/bin/nvidia-smi") == "cuda"
    assert detect_variant("win32", which=lambda name: None) == "cpu"
    assert detect_variant("darwin", which=lambda name: "/x") == "default"
    mac = InstallPlan(variant="cuda", platform="darwin")
    assert "torch==2.14.1" in mac.specs() and "--extra-index-url" not in pip_arguments(mac, Path())


def test_never_user_nor_break_system_packages_always_target():
    target = Path("/p/marsspec/python-packages")
    for platform in ("linux", "win32", "darwin"):
        for variant in ("auto", "cpu", "cuda"):
            plan = InstallPlan(variant=variant, platform=platform)
            words = pip_arguments(plan, target)
            command = manual_command(plan, "python", target)
            for text in (" ".join(words), command):
                assert "--user" not in text and "--break-system-packages" not in text
            assert words[words.index("--target") + 1] == str(target)
    dependencies.set_packages_dir(None)
    try:
        plain = dependencies.install_command(list(dependencies.RUNTIME))
        assert "--user" not in plain and "--break-system-packages" not in plain
        dependencies.set_packages_dir(target)
        assert "--target " + str(target) in dependencies.install_command(
            list(dependencies.DEEP_LEARNING)
        )
    finally:
        dependencies.set_packages_dir(None)


def test_manual_command_seals_the_folder_only_after_pip_succeeds(tmp_path):
    target = tmp_path / "python-packages"
    plan = InstallPlan(variant="cpu", platform=sys.platform)
    command = manual_command(plan, sys.executable, target)
    install, seal = command.split(" && ")
    assert shlex.split(install)[1:4] == ["-m", "pip", "install"]
    target.mkdir()
    subprocess.run(shlex.split(seal), check=True)  # the seal part, run as a shell would
    assert folder.state(target) == "ready"
    assert json.loads((target / folder.MARKER_NAME).read_text())["torch_build"] == "cpu"


def test_shapely_from_source_only_on_linux_and_only_when_qgis_has_none():
    always = InstallPlan(platform="linux", binaries_for_shadowed=False)
    assert "--no-binary" in pip_arguments(always, Path())
    assert "--no-binary" not in pip_arguments(InstallPlan(platform="win32"), Path())
    # this Python has shapely: it shadows the folder's copy, so the wheel is fine there
    assert dependencies.is_installed("shapely")
    assert "--no-binary" not in pip_arguments(InstallPlan(platform=sys.platform), Path())


# ---- the packages folder ------------------------------------------------------------------------
def seal(target: Path, **changes) -> None:
    payload = {**folder.marker_payload(["x==1"], "cpu"), **changes}
    (target / folder.MARKER_NAME).write_text(json.dumps(payload))


def test_only_a_sealed_folder_for_this_python_is_used(tmp_path):
    target = tmp_path / "python-packages"
    assert folder.state(target) == "absent" and not folder.activate(target)
    target.mkdir()
    assert folder.state(target) == "unfinished" and not folder.activate(target)
    seal(target, python="2.7")
    assert folder.state(target) == "other-python" and not folder.activate(target)
    assert str(target) not in sys.path
    seal(target)
    try:
        assert folder.activate(target) and sys.path[-1] == str(target)  # appended: QGIS wins
    finally:
        sys.path.remove(str(target))


def test_publish_replaces_an_old_install_and_seals_last(tmp_path):
    target = tmp_path / "python-packages"
    target.mkdir()
    (target / "old.py").write_text("")
    seal(target)
    staging = folder.new_staging(target)
    (staging / "new.py").write_text("")
    assert folder.leftovers(target) == [staging]
    folder.publish(staging, target, folder.marker_payload(["y==2"], "cpu"))
    assert sorted(p.name for p in target.iterdir()) == [folder.MARKER_NAME, "new.py"]
    assert folder.state(target) == "ready" and folder.leftovers(target) == []
    assert folder.read_marker(target)["requirements"] == ["y==2"]


def test_uninstall_unseals_and_removes(tmp_path):
    target = tmp_path / "python-packages"
    target.mkdir()
    seal(target)
    assert folder.uninstall(target) and not target.exists()
    assert folder.leftovers(target) == [] and not folder.uninstall(target)


# ---- failures, in words a user can act on ----------------------------------------------------
def test_pip_missing_from_a_real_python_without_pip(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the venv's pip would be visible through it
    venv.create(tmp_path / "nopip", with_pip=False)
    python = tmp_path / "nopip" / "bin" / "python"
    with pytest.raises(PipMissingError, match=r"has no pip.*apt install python3-pip"):
        pip_available(str(python), log=lambda line: None)


def test_disk_full_and_network_messages():
    disk = classify_failure("ERROR: [Errno 28] No space left on device: '/x/torch'", "py")
    assert isinstance(disk, DiskFullError) and "Free some space" in str(disk)
    refused = "WARNING: Retrying ... NewConnectionError: Failed to establish a new connection"
    assert isinstance(classify_failure(refused, "py"), NoNetworkError)
    silent = "ERROR: Could not find a version that satisfies x==1 (from versions: none)"
    assert isinstance(classify_failure(silent, "py", index_down=True), NoNetworkError)
    assert not isinstance(classify_failure(silent, "py", index_down=False), NoNetworkError)


def test_free_space_is_checked_before_anything_is_downloaded(tmp_path):
    with pytest.raises(DiskFullError, match="GB free"):
        check_free_space(tmp_path, 10**18)


def test_a_cancelled_pip_is_killed(tmp_path):
    seen = []
    script = "import time; print('Collecting x', flush=True); time.sleep(60)"
    with pytest.raises(Exception, match="cancelled"):
        run_pip(
            [sys.executable, "-c", script],
            log=seen.append,
            cancel=lambda: bool(seen),
            started=lambda process: seen.append(process),
        )
    process = next(item for item in seen if isinstance(item, subprocess.Popen))
    assert process.poll() is not None  # not running any more
