"""Desktop glue (QGIS GUI only): layer context-menu actions, the bin-probability inspector,
the missing-dependency dialog. Nothing here runs under ``qgis_process``."""
