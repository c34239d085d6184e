"""Offline training tools: simulator, datasets, losses, train loops, export.

Never imported by the QGIS plugin and not shipped in the plugin zip; used from a source
checkout through `python -m marsspec simulate|train|export`.
"""
