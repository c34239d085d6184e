"""Raster I/O: opening and describing rasters, planetary product readers, Mars CRS helpers."""
