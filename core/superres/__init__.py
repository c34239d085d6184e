"""4x super-resolution of greyscale and colour rasters with a MARSGAN generator (paper 002).

    from marsspec.core.superres.job import SuperresConfig, SuperresRequest, superresolve
    superresolve(SuperresRequest("cassis.tif", "cassis_sr.tif", SuperresConfig(bands=(3, 2, 1))))

Kept import-free so that the normalisation helpers load without torch.
"""
