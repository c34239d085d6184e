"""The marsspec engine: raster I/O, tiling, models, co-registration, metrics, CLI.

Nothing under ``core`` imports qgis or PyQt: progress and cancellation arrive as plain
callables, so the same engine serves QGIS, ``qgis_process`` and ``python -m marsspec``.
"""
