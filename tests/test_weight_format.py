"""Weights stored int8 per output channel load as float32 close to the original; fp16 files
written before that format still load; the bundled models use it and fit their networks."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

from marsspec.core.models import weight_format as wf
from marsspec.core.models.manifest import load_manifest, read_weights
from marsspec.core.provenance import sha256_file


def small_network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3),  # 72 weights: stays fp16
        torch.nn.BatchNorm2d(8),
        torch.nn.Conv2d(8, 64, 3),  # 4608 weights: int8
    )


def test_int8_round_trip_is_close_and_keeps_small_tensors_fp16(tmp_path):
    state = small_network().state_dict()
    path = tmp_path / "w.safetensors"
    dtype = wf.save_weights(state, path, "test", fmt=wf.FORMAT_INT8)
    assert dtype == wf.FORMAT_INT8
    stored = load_file(str(path))
    assert stored["2.weight:int8"].dtype == torch.int8
    assert stored["2.weight:int8_scale"].shape == (64,)
    assert stored["0.weight"].dtype == torch.float16 and "2.weight" not in stored
    loaded = read_weights(path)
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert loaded[name].dtype == (torch.float32 if tensor.is_floating_point() else tensor.dtype)
    original = state["2.weight"]
    per_channel_peak = original.abs().reshape(64, -1).amax(dim=1)
    error = (loaded["2.weight"] - original).abs().reshape(64, -1).amax(dim=1)
    assert torch.all(error <= per_channel_peak / 127 * 0.5 + 1e-3)  # half a quantisation step
    assert torch.all(error > 0)  # it is really quantised, not stored as floats
    network = small_network()
    network.load_state_dict(loaded)  # strict: every key back under its own name


def test_int8_file_is_smaller_and_byte_identical_when_written_again(tmp_path):
    state = small_network().state_dict()
    fp16, int8, again = (tmp_path / f"{n}.safetensors" for n in ("a", "b", "c"))
    assert wf.save_weights(state, fp16, "x", fmt=wf.FORMAT_FP16) == wf.FORMAT_FP16
    wf.save_weights(state, int8, "x")
    wf.save_weights(state, again, "x")
    assert int8.stat().st_size < 0.65 * fp16.stat().st_size
    assert sha256_file(int8) == sha256_file(again)  # the manifest's sha256 is reproducible


def test_fp16_files_of_the_old_format_still_load(tmp_path):
    state = small_network().state_dict()
    path = tmp_path / "old.safetensors"
    old = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(old, str(path), metadata={"marsspec": "old export"})
    loaded = read_weights(path)
    assert torch.allclose(loaded["2.weight"], state["2.weight"], atol=1e-3)
    assert loaded["2.weight"].dtype == torch.float32


def test_int8_tensor_without_its_scale_is_refused(tmp_path):
    path = tmp_path / "broken.safetensors"
    save_file({"w:int8": torch.zeros((4, 4), dtype=torch.int8)}, str(path))
    try:
        read_weights(path)
    except ValueError as exc:
        assert "w" in str(exc) and "scale" in str(exc)
    else:
        raise AssertionError("an int8 tensor without a scale was loaded")


def test_bundled_models_are_int8_and_load_strictly():
    for entry in load_manifest(None).entries:
        if not entry.bundled:
            continue
        assert entry.dtype == wf.FORMAT_INT8, entry.id
        assert entry.weights_path.stat().st_size == entry.size_bytes
        network = entry.build("cpu")  # verifies sha256, strict load_state_dict
        assert all(p.dtype == torch.float32 for p in network.parameters()), entry.id
