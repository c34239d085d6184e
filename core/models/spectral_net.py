"""The spectral prediction network (paper 000 §3.1-3.2): an smp U-Net, CTX in, CRISM bands out.

Registered in the manifest as architecture ``"smp-spectral"``. The default is the paper's pick,
a U-Net with an EfficientNet-B0 encoder (no ImageNet weights: CTX is one greyscale channel and
the plugin must not download anything). Convolution padding is switched to reflection so that
patch and raster borders do not look like dark frames to the network (§3.3).
"""

from __future__ import annotations

import torch
from torch import nn

from marsspec.core.errors import InputError

DEFAULT_ARCH = "Unet"
DEFAULT_ENCODER = "efficientnet-b0"
DEFAULT_DECODER = (128, 64, 32, 16, 16)


class ReflectPad(nn.Module):
    """Reflection padding that falls back to edge replication on feature maps too small to
    reflect (the deepest encoder level of a small patch)."""

    def __init__(self, padding: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.padding = tuple(int(p) for p in padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not any(self.padding):
            return x
        left, right, top, bottom = self.padding
        small = max(left, right) >= x.shape[-1] or max(top, bottom) >= x.shape[-2]
        return nn.functional.pad(x, self.padding, mode="replicate" if small else "reflect")


def _reflect_padding(module: nn.Module) -> None:
    """Replace zero padding by reflection everywhere (ZeroPad2d and convolution padding)."""
    for name, child in module.named_children():
        if isinstance(child, nn.ZeroPad2d):
            setattr(module, name, ReflectPad(child.padding))
        elif isinstance(child, nn.Conv2d) and isinstance(child.padding, tuple):
            if any(p > 0 for p in child.padding):
                ph, pw = child.padding
                child.padding = (0, 0)
                setattr(module, name, nn.Sequential(ReflectPad((pw, pw, ph, ph)), child))
        else:
            _reflect_padding(child)


class SpectralNet(nn.Module):
    """Wraps an smp model: pads to the encoder's multiple, reshapes the bin head.

    Output: regression ``(N, n_bands, H, W)``; bins ``(N, n_bins, n_bands, H, W)`` logits.
    """

    def __init__(self, net: nn.Module, n_bands: int, n_bins: int | None, multiple: int) -> None:
        super().__init__()
        self.net = net
        self.n_bands = n_bands
        self.n_bins = n_bins
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        y = self.net(x)[..., :h, :w]
        if self.n_bins:
            y = y.reshape(y.shape[0], self.n_bins, self.n_bands, h, w)
        return y


def build_spectral_net(
    *,
    in_channels: int = 1,
    n_bands: int = 3,
    n_bins: int | None = None,
    arch: str = DEFAULT_ARCH,
    encoder: str = DEFAULT_ENCODER,
    decoder_channels: list[int] | tuple[int, ...] = DEFAULT_DECODER,
    reflect_padding: bool = True,
) -> SpectralNet:
    """Build the network; ``n_bins`` set -> classification head of n_bands x n_bins channels."""
    import segmentation_models_pytorch as smp

    if in_channels not in (1, 2):
        raise InputError(f"in_channels={in_channels}: use 1 (CTX) or 2 (CTX + DEM).")
    if n_bins is not None and n_bins < 2:
        raise InputError(f"n_bins={n_bins}: a bin model needs at least 2 bins.")
    try:
        factory = getattr(smp, arch)
    except AttributeError as exc:
        raise InputError(
            f"Unknown smp architecture {arch!r}; use e.g. Unet, UnetPlusPlus, FPN, DeepLabV3Plus."
        ) from exc
    classes = n_bands * (n_bins or 1)
    kwargs = {"encoder_name": encoder, "encoder_weights": None, "in_channels": in_channels}
    kwargs["classes"] = classes
    if arch in ("Unet", "UnetPlusPlus"):
        kwargs["decoder_channels"] = tuple(decoder_channels)
    try:
        net = factory(**kwargs)
    except (KeyError, ValueError) as exc:
        raise InputError(f"smp cannot build {arch} with encoder {encoder!r}: {exc}") from exc
    if reflect_padding:
        _reflect_padding(net)
    return SpectralNet(net, n_bands, n_bins, multiple=32)
