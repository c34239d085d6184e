"""Missing optional packages are named, with a command for this very Python."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from marsspec.core import dependencies
from tests.conftest import REPO_ROOT


def test_installed_and_missing_detected_without_import():
    missing = dependencies.missing_requirements(["json", "marsspec_no_such_package_xyz"])
    assert [req.module for req in missing] == ["marsspec_no_such_package_xyz"]
    assert "marsspec_no_such_package_xyz" not in sys.modules


def test_install_command_targets_this_python_with_pins():
    requirements = list(dependencies.DEEP_LEARNING)
    words = shlex.split(dependencies.install_command(requirements))
    assert words[:4] == [dependencies.python_executable(), "-m", "pip", "install"]
    torch = next(word for word in words if word.startswith("torch=="))
    assert torch.split("+")[0] == "torch==2.14.1"  # +cpu / +cuXXX: the build for this machine
    assert "segmentation-models-pytorch==0.6.0" in words


def test_install_command_never_touches_the_system_python():
    for packages in (None, "/profile/marsspec/python-packages"):
        dependencies.set_packages_dir(packages)
        try:
            command = dependencies.install_command(list(dependencies.RUNTIME))
        finally:
            dependencies.set_packages_dir(None)
        assert "--user" not in command and "--break-system-packages" not in command
        if packages:  # inside QGIS: marsspec's own folder, sealed only if pip succeeded
            assert f"--target {packages}" in command and " && " in command


def test_python_executable_is_a_python_not_qgis():
    assert "python" in Path(dependencies.python_executable()).name


def test_shapely_is_built_from_source_in_the_command():
    command = dependencies.install_command([dependencies.requirement_for("shapely")])
    assert "--no-binary shapely shapely==2.1.2" in command


def test_message_names_packages_and_fix():
    message = dependencies.missing_message(
        dependencies.missing_requirements(["marsspec_no_such_package_xyz"]), "Spectral prediction"
    )
    assert "marsspec-no-such-package-xyz" in message
    assert "pip install" in message and "restart QGIS" in message


def test_pins_match_requirements_file():
    pins = dict(
        re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    )
    for requirement in dependencies.RUNTIME:
        name, version = requirement.spec.split("==")
        assert pins.get(name) == version, requirement.spec
