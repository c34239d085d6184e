"""Shared fixtures: a QGIS with marsspec's provider, Mars test rasters, a qgis_process profile."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from tests import qgis_process_runner

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MARS_EQC = "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +R=3396190 +units=m +no_defs"


_LIVE_PROVIDERS: list = []

# A test run started in the background (`make test &`, nohup) inherits SIGINT *ignored*, and so
# would every marsspec process it starts: the Ctrl-C tests (SIGINT -> exit 130, nothing left)
# would then see a run that cannot be interrupted. Give this process Python's usual handler;
# its children start with SIGINT at the default, as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def user_models_dir(tmp_path_factory):
    """Your-models folder for the whole session: a temporary one, so no test (nor a
    qgis_process or CLI subprocess, which inherit the variable) reads or writes the real
    ~/.local/share/marsspec/models. Tests that export use their own folder on top."""
    from marsspec.core.models import locations

    folder = tmp_path_factory.mktemp("user-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(locations.ENV_VAR, str(folder))
        yield folder


@pytest.fixture()
def marsspec_provider(qgis_app, qgis_processing):
    """marsspec's provider, registered in the pytest-qgis application if it is not yet."""
    from qgis.core import QgsApplication

    from marsspec.marsspec_plugin.provider import MarsspecProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("marsspec") is None:
        # Keep the Python object alive: SIP drops a provider's Python half (and so its
        # algorithms' overrides) once nothing in Python refers to it.
        _LIVE_PROVIDERS[:] = [MarsspecProvider()]
        registry.addProvider(_LIVE_PROVIDERS[0])
    return _LIVE_PROVIDERS[0]


def write_mars_raster(
    path: Path,
    data: np.ndarray,
    *,
    pixel_size: float = 6.0,
    nodata: float | None = None,
    crs: str = MARS_EQC,
    wavelengths_nm: list[float] | None = None,
) -> Path:
    """A small GeoTIFF in a Mars equirectangular CRS (data shaped bands x rows x cols)."""
    import rasterio
    from rasterio.transform import from_origin

    if data.ndim == 2:
        data = data[np.newaxis]
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": from_origin(4_600_020.0, -1_090_002.0, pixel_size, pixel_size),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(data)
        for index, wavelength in enumerate(wavelengths_nm or [], start=1):
            dataset.update_tags(index, WAVELENGTH_NM=f"{wavelength:g}", units="I/F")
            dataset.set_band_description(index, f"{wavelength:g} nm")
    return path


@pytest.fixture()
def mars_raster(tmp_path) -> Path:
    rng = np.random.default_rng(42)
    data = rng.normal(1000, 50, (2, 37, 53)).astype("uint16")
    return write_mars_raster(tmp_path / "mars.tif", data, nodata=0, wavelengths_nm=[592.0, 533.0])


@pytest.fixture(scope="session")
def qgis_process_env(tmp_path_factory) -> dict[str, str]:
    """qgis_process with this checkout as the plugin, in a fresh isolated profile."""
    profile = tmp_path_factory.mktemp("qgis-profile")
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "marsspec").symlink_to(REPO_ROOT, target_is_directory=True)
    env = qgis_process_runner.profile_env(
        profile, plugins, [str(plugins), qgis_process_runner.venv_site_packages()]
    )
    qgis_process_runner.enable_plugin(env)
    return env
