"""SRGAN/ESRGAN VGG-style discriminator (paper 002 §2.1): 8 convs, two dense layers.

Conv widths 64, 64/2, 128, 128/2, 256, 256/2, 512, 512/2 (``/2`` = stride 2) with LeakyReLU
0.2 (batch norm after all but the first, as SRGAN), then an adaptive pool so any crop size
works, Dense(1024) + LeakyReLU, Dense(1). It returns the raw score C(x); the relativistic
average sigmoid of Eq. 7 is applied in the loss (training/superres/losses.py).
"""

from __future__ import annotations

import torch
from torch import nn


class VGGDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 1, nf: int = 64, pool: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for i, (mult, stride) in enumerate(
            ((1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))
        ):
            cout = nf * mult
            layers.append(nn.Conv2d(cin, cout, 3, stride, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(pool))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * pool * pool, 1024),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(1024, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
