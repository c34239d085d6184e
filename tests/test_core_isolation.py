"""The layers: adapters -> core <- training, core imports nothing of ours above it.

core/ and training/ import without qgis or PyQt; the plugin imports nothing heavy at load.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT

# package -> the packages of ours (and third-party GUI stacks) it must never import
FORBIDDEN = {
    "core": ("marsspec.training", "marsspec.cli", "marsspec.marsspec_plugin", "qgis", "PyQt5"),
    "training": ("marsspec.cli", "marsspec.marsspec_plugin", "qgis", "PyQt5"),
    "cli": ("marsspec.marsspec_plugin", "qgis", "PyQt5"),
    "marsspec_plugin": ("marsspec.training", "marsspec.cli"),
}


def imported_modules(path) -> list[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    wrong = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package])
    ]
    assert wrong == []


def test_the_layer_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from marsspec.training.spectra import train\n")
    assert "marsspec.training.spectra" in imported_modules(module)


BLOCK_QGIS = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'sip'):
                raise ImportError(f'blocked for this test: {name}')
    sys.meta_path.insert(0, Block())
    """
)


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_core_and_training_import_without_qgis():
    code = BLOCK_QGIS + textwrap.dedent(
        f"""
        import pkgutil, importlib
        root = {str(REPO_ROOT)!r}
        count = 0
        for package in ('core', 'training'):
            base = importlib.import_module('marsspec.' + package)
            for info in pkgutil.walk_packages(base.__path__, base.__name__ + '.'):
                importlib.import_module(info.name)
                count += 1
        assert not any(m.split('.')[0] in ('qgis', 'PyQt5') for m in sys.modules)
        print('imported', count)
        """
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout.split()[-1]) >= 5


def test_the_blocker_really_blocks():
    completed = run_python(BLOCK_QGIS + "import qgis.core")
    assert completed.returncode != 0
    assert "blocked for this test" in completed.stderr


def test_plugin_load_imports_nothing_heavy():
    code = textwrap.dedent(
        """
        import sys
        import marsspec
        from marsspec.marsspec_plugin.provider import MarsspecProvider
        from marsspec.marsspec_plugin.plugin import MarsspecPlugin
        heavy = [m for m in ('torch', 'rasterio', 'arosics', 'segmentation_models_pytorch',
                              'numpy', 'scipy', 'training') if m in sys.modules]
        heavy += [m for m in sys.modules if m.startswith('marsspec.training')]
        print('heavy:', heavy)
        assert heavy == [], heavy
        """
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_options_import_nothing_heavy():
    """Both adapters list their choices from core.options at start-up: no numpy, no torch."""
    code = BLOCK_QGIS + textwrap.dedent(
        """
        from marsspec.core import options
        assert options.model_ids('predict') and options.model_ids('superres')
        heavy = [m for m in ('numpy', 'torch', 'rasterio') if m in sys.modules]
        assert heavy == [], heavy
        """
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stdout + completed.stderr
