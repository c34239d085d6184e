"""The per-patch SR step the tiling engine calls: normalise, generator, colour merge, restore.

One module serves greyscale (1 band), per-band colour (every band through the 1-band network
as its own batch item) and HSV colour (V through the network, H and S bicubic). Values go in
and out as float32 radiometry: the normalisation is an affine map by robust per-band (or
per-V) ranges computed once for the whole raster, so patches agree and no value is clipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from marsspec.core.superres.colour import merge_colour, split_colour
from marsspec.core.superres.normalise import Normaliser


class SuperresPredictor(nn.Module):
    def __init__(
        self, generator: nn.Module, normalisers: Sequence[Normaliser], colour_mode: str
    ) -> None:
        super().__init__()
        self.generator = generator
        self.colour_mode = colour_mode
        self.register_buffer("lo", torch.tensor([n.lo for n in normalisers]).view(1, -1, 1, 1))
        self.register_buffer(
            "span", torch.tensor([n.hi - n.lo for n in normalisers]).view(1, -1, 1, 1)
        )

    def _sr_bands(self, x: torch.Tensor) -> torch.Tensor:
        """Each channel of (N, C, h, w) through the 1-band generator, normalised and restored."""
        n, c, h, w = x.shape
        z = ((x - self.lo) / self.span).reshape(n * c, 1, h, w)
        sr = self.generator(z).float()
        return sr.reshape(n, c, 4 * h, 4 * w) * self.span + self.lo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.colour_mode == "hsv" and x.shape[1] >= 3:
            value, colour = split_colour(x)
            return merge_colour(self._sr_bands(value), colour, x.shape[1])
        return self._sr_bands(x)
