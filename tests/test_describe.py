"""core.io.describe: what a user sees about a raster, Mars CRS included."""

from __future__ import annotations

import numpy as np
import pytest

from marsspec.core.errors import InputError, MarsspecError, RasterIOError
from marsspec.core.io.describe import describe_raster
from tests.conftest import write_mars_raster


def test_mars_raster_described(mars_raster):
    description = describe_raster(mars_raster)
    assert (description.width, description.height, description.band_count) == (53, 37, 2)
    assert description.crs_body == "Mars"
    assert description.pixel_size == (6.0, 6.0)
    assert description.pixel_size_units == "m"
    assert [band.dtype for band in description.bands] == ["uint16", "uint16"]
    assert [band.wavelength_nm for band in description.bands] == [592.0, 533.0]
    assert [band.nodata for band in description.bands] == [0.0, 0.0]
    assert "body: Mars" in description.format_text()
    assert description.to_dict()["bands"][1]["wavelength_nm"] == 533.0


def test_earth_crs_is_not_called_mars(tmp_path):
    path = write_mars_raster(tmp_path / "earth.tif", np.zeros((5, 5), "float32"), crs="EPSG:32633")
    assert describe_raster(path).crs_body == "Earth"


def test_geographic_mars_crs(tmp_path):
    path = write_mars_raster(
        tmp_path / "geo.tif",
        np.zeros((5, 5), "float64"),
        pixel_size=0.001,
        crs="+proj=longlat +R=3396190 +no_defs",
    )
    description = describe_raster(path)
    assert description.crs_body == "Mars"
    assert description.pixel_size_units == "degrees"
    assert description.bands[0].dtype == "float64"


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        describe_raster(tmp_path / "nope.tif")


def test_not_a_raster_is_io_error(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("this is not a raster")
    with pytest.raises(RasterIOError, match="GDAL-readable") as caught:
        describe_raster(path)
    assert isinstance(caught.value, MarsspecError) and isinstance(caught.value, OSError)
