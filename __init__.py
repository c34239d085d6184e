"""marsspec: a QGIS plugin with deep-learning tools for Mars orbital imagery.

QGIS imports this package at start-up and calls :func:`classFactory`; it must import nothing
heavy here (no torch, no rasterio), so QGIS starts fast and starts even when the optional
packages are missing. First of all it puts marsspec's own packages folder (what the Install
button installed, sealed for this Python) on ``sys.path``, before anything imports torch.
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    """QGIS entry point: build the plugin object for the running interface."""
    from marsspec.marsspec_plugin.packages import activate_packages

    activate_packages()
    from marsspec.marsspec_plugin.plugin import MarsspecPlugin

    return MarsspecPlugin(iface)
