"""How exported weights are stored: fp16 tensors, or int8 per output channel for the large ones.

Why: the QGIS plugin repository refuses zips over 25 MB and the three spectral models took
9.8 MB each in fp16. A convolution or linear weight of ``numel >= MIN_INT8_ELEMENTS`` is stored
as int8 with one float32 scale per output channel (symmetric, ``w ~= q * scale``), which halves
it again; biases, normalisation parameters and small tensors (the first convolution, say) stay
fp16, as before. Loading dequantises to float32, so inference and fine-tuning never see int8.

The file is still a plain safetensors file (no pickle: loading never runs code). A quantised
tensor ``name`` is stored under two keys, ``name:int8`` and ``name:int8_scale``; a reader that
does not know them fails on missing keys instead of loading integers as weights. Files written
before this format (every tensor fp16) load unchanged.
"""

from __future__ import annotations

import os
from typing import Any

FORMAT_FP16 = "float16"
FORMAT_INT8 = "int8-per-channel"  # the manifest's ``dtype`` for the mixed int8/fp16 files
INT8_SUFFIX = ":int8"
SCALE_SUFFIX = ":int8_scale"
# Tensors smaller than this stay fp16: they cost little and the first/last layers are the
# most sensitive to rounding (the spectral models' first convolution has 288 weights).
MIN_INT8_ELEMENTS = 4096


def _quantisable(name: str, tensor: Any, min_elements: int, keep: tuple[str, ...]) -> bool:
    return (
        tensor.is_floating_point()
        and tensor.dim() >= 2
        and tensor.numel() >= min_elements
        and not any(name.startswith(prefix) for prefix in keep)
    )


def quantise_int8(tensor: Any) -> tuple[Any, Any]:
    """Symmetric int8 per output channel (dim 0): ``(q, scale)`` with ``tensor ~= q * scale``."""
    import torch

    flat = tensor.detach().float().reshape(tensor.shape[0], -1)
    peak = flat.abs().amax(dim=1)
    scale = torch.where(peak > 0, peak / 127.0, torch.ones_like(peak))
    q = torch.clamp(torch.round(flat / scale[:, None]), -127, 127).to(torch.int8)
    return q.reshape(tensor.shape).contiguous(), scale.contiguous()


def pack_state_dict(
    state: dict[str, Any],
    *,
    fmt: str = FORMAT_INT8,
    min_elements: int = MIN_INT8_ELEMENTS,
    keep: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The tensors to write for ``state``: every float tensor fp16, and with ``FORMAT_INT8``
    the large weights (not those whose name starts with a ``keep`` prefix) as int8 + scale."""
    if fmt not in (FORMAT_FP16, FORMAT_INT8):
        raise ValueError(f"unknown weight format {fmt!r}; use {FORMAT_FP16} or {FORMAT_INT8}")
    packed: dict[str, Any] = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu()
        if fmt == FORMAT_INT8 and _quantisable(name, tensor, min_elements, keep):
            q, scale = quantise_int8(tensor)
            packed[name + INT8_SUFFIX] = q
            packed[name + SCALE_SUFFIX] = scale
        else:
            packed[name] = (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
    return packed


def unpack_state_dict(tensors: dict[str, Any]) -> dict[str, Any]:
    """float32 tensors from either format: int8 ones dequantised, fp16 ones widened."""
    state: dict[str, Any] = {}
    for name, tensor in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        if name.endswith(INT8_SUFFIX):
            base = name[: -len(INT8_SUFFIX)]
            scale = tensors.get(base + SCALE_SUFFIX)
            if scale is None:
                raise ValueError(f"int8 tensor {base!r} has no {SCALE_SUFFIX} scale")
            shape = (-1,) + (1,) * (tensor.dim() - 1)
            state[base] = tensor.float() * scale.float().reshape(shape)
        else:
            state[name] = tensor.float() if tensor.is_floating_point() else tensor
    return state


def storage_format(tensors: dict[str, Any]) -> str:
    """The manifest ``dtype`` of a set of stored tensors."""
    return FORMAT_INT8 if any(k.endswith(INT8_SUFFIX) for k in tensors) else FORMAT_FP16


def save_weights(
    state: dict[str, Any],
    path: str | os.PathLike[str],
    metadata_text: str,
    *,
    fmt: str = FORMAT_INT8,
    keep: tuple[str, ...] = (),
) -> str:
    """Write ``state`` to a safetensors file in ``fmt``; returns the manifest ``dtype``.

    One metadata key only: safetensors writes several in hash order, which would change the
    file's sha256 from run to run."""
    from safetensors.torch import save_file

    packed = pack_state_dict(state, fmt=fmt, keep=keep)
    save_file(packed, str(path), metadata={"marsspec": metadata_text})
    return storage_format(packed)
