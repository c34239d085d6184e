"""The tie-point layer: a GeoPackage written with OGR (inside QGIS, geopandas/pyogrio would
load a second GDAL; see ENVIRONMENT.md), one point per valid arosics match.

Shift sign = arosics': the move that registers the target (a feature the CRISM product shows
at P lies on the ground at P + shift). ``*_px`` are matching-grid (CRISM-resolution) pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from marsspec.core.coreg.match import TiePoints
from marsspec.core.errors import RasterIOError
from marsspec.core.io.safety import require_staged

LAYER = "tie_points"
# (field, OGR type name, TiePoints attribute or None for derived)
FIELDS: tuple[tuple[str, str], ...] = (
    ("point_id", "Integer"),
    ("x_im", "Real"),
    ("y_im", "Real"),
    ("x_shift_px", "Real"),
    ("y_shift_px", "Real"),
    ("x_shift_m", "Real"),
    ("y_shift_m", "Real"),
    ("abs_shift_m", "Real"),
    ("abs_shift_px", "Real"),
    ("angle_deg", "Real"),
    ("reliability", "Real"),
    ("ssim_before", "Real"),
    ("ssim_after", "Real"),
    ("l1_outlier", "Integer"),
    ("l2_outlier", "Integer"),
    ("l3_outlier", "Integer"),
    ("outlier", "Integer"),
    ("used", "Integer"),
)


def write_tie_points(path: Path, points: TiePoints, used: np.ndarray, crs_wkt: str) -> None:
    from osgeo import ogr, osr

    require_staged(path)  # written only as a temporary file of the job's OutputSet
    ogr.UseExceptions()
    driver = ogr.GetDriverByName("GPKG")
    try:
        dataset = driver.CreateDataSource(str(path))
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        layer = dataset.CreateLayer(LAYER, srs, ogr.wkbPoint)
        for name, kind in FIELDS:
            layer.CreateField(ogr.FieldDefn(name, getattr(ogr, f"OFT{kind}")))
        pixel = np.hypot(points.x_shift_px, points.y_shift_px)
        defn = layer.GetLayerDefn()
        layer.StartTransaction()
        for i in range(len(points)):
            feature = ogr.Feature(defn)
            values = {
                "point_id": int(points.point_id[i]),
                "x_im": points.x_im[i],
                "y_im": points.y_im[i],
                "x_shift_px": points.x_shift_px[i],
                "y_shift_px": points.y_shift_px[i],
                "x_shift_m": points.x_shift_m[i],
                "y_shift_m": points.y_shift_m[i],
                "abs_shift_m": points.abs_shift_m[i],
                "abs_shift_px": pixel[i],
                "angle_deg": points.angle_deg[i],
                "reliability": points.reliability[i],
                "ssim_before": points.ssim_before[i],
                "ssim_after": points.ssim_after[i],
                "l1_outlier": int(points.l1_outlier[i]),
                "l2_outlier": int(points.l2_outlier[i]),
                "l3_outlier": int(points.l3_outlier[i]),
                "outlier": int(points.outlier[i]),
                "used": int(used[i]),
            }
            for name, value in values.items():
                feature.SetField(name, value if isinstance(value, int) else float(value))
            point = ogr.Geometry(ogr.wkbPoint)
            point.AddPoint_2D(float(points.x_map[i]), float(points.y_map[i]))
            feature.SetGeometry(point)
            layer.CreateFeature(feature)
        layer.CommitTransaction()
        dataset.FlushCache()
        dataset = None  # closes the file
    except RuntimeError as error:
        raise RasterIOError(f"Could not write the tie points to '{path}': {error}") from error
