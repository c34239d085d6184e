"""Make a trained network cheaper to run without changing what it computes.

Inference repeats the same arithmetic millions of times, so three exact rewrites pay off on
every patch (about 15 % of the forward time of the bundled EfficientNet U-Nets on a 2-core
CPU, docs/tiling.md):

- an eval-mode ``BatchNorm2d`` that only follows a convolution is an affine map per channel,
  so it is folded into that convolution's weights and bias (one pass over the activations
  fewer);
- a convolution that carries its own symmetric zero-padding module (EfficientNet's
  TensorFlow-style "same" padding) pads inside the convolution instead of copying the tensor;
- a ``SiLU``/``ReLU``/``LeakyReLU`` whose input is a fresh convolution output used nowhere
  else runs in place (no new activation tensor).

The network is copied (the caller's model is never changed) and traced with ``torch.fx``;
a part that cannot be traced is left as it is and its children are tried instead. The engine
checks the prepared copy against the original on the first patch before using it
(:mod:`marsspec.core.tiling.forward`), so a rewrite that changed the answer is never used.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import nn
from torch.nn import functional

_INPLACE = {
    nn.SiLU: functional.silu,
    nn.ReLU: functional.relu,
    nn.LeakyReLU: functional.leaky_relu,
}


@dataclass(frozen=True)
class Preparation:
    """The prepared copy and what was rewritten in it."""

    module: nn.Module
    folded_batchnorms: int = 0
    folded_paddings: int = 0
    inplace_activations: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.folded_batchnorms or self.folded_paddings or self.inplace_activations)

    def summary(self) -> str:
        return (
            f"{self.folded_batchnorms} batch norms folded into convolutions, "
            f"{self.folded_paddings} paddings folded, {self.inplace_activations} activations "
            "in place"
        )


_REWRITABLE = (nn.Conv2d, nn.BatchNorm2d, *_INPLACE)


class _ConvLeafTracer(fx.Tracer):
    """Keeps convolutions, batch norms, and modules with nothing to rewrite as single nodes.

    The last rule lets a graph through helpers fx cannot look into (a padding that chooses
    its mode from the tensor's shape, say): they are called as they are.
    """

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, nn.Conv2d | nn.BatchNorm2d):
            return True
        if not any(isinstance(sub, _REWRITABLE) for sub in m.modules()):
            return True
        return super().is_leaf_module(m, qualname)


# Set on every prepared copy: preparing it again would find nothing to rewrite, after a deep
# copy and a trace that cost about 0.5 s per run (a caller that prepares once and runs many).
PREPARED_MARK = "_marsspec_prepared"


def prepare_for_inference(module: nn.Module) -> Preparation:
    """An eval-mode copy of ``module`` with the exact rewrites above applied where possible.

    A module this function returned is returned as it is (``changed`` False): it holds
    nothing left to rewrite.
    """
    if getattr(module, PREPARED_MARK, False):
        return Preparation(module)
    model = copy.deepcopy(module).eval()
    counts: Counter[str] = Counter()
    counts["paddings"] = _fold_static_paddings(model)
    with torch.no_grad():
        model = _prepare(model, counts)
    setattr(model, PREPARED_MARK, True)
    return Preparation(model, counts["batchnorms"], counts["paddings"], counts["activations"])


def _prepare(module: nn.Module, counts: Counter[str]) -> nn.Module:
    if not any(isinstance(m, (nn.BatchNorm2d, *_INPLACE)) for m in module.modules()):
        return module  # nothing to gain from a graph
    try:
        graph = _ConvLeafTracer().trace(module)
    except Exception:  # untraceable Python: try the parts one by one
        for name, child in module.named_children():
            setattr(module, name, _prepare(child, counts))
        return module
    modules = dict(module.named_modules())
    counts["batchnorms"] += _fold_batchnorms(graph, modules)
    counts["activations"] += _inplace_activations(graph, modules)
    graph.lint()
    return fx.GraphModule(module, graph, class_name=type(module).__name__)


def _call_sites(graph: fx.Graph) -> Counter[str]:
    return Counter(n.target for n in graph.nodes if n.op == "call_module")


def _fold_batchnorms(graph: fx.Graph, modules: dict[str, nn.Module]) -> int:
    """Fold each BN whose input is a convolution used by that BN alone, called once."""
    sites = _call_sites(graph)
    folded = 0
    for node in list(graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None:
            continue
        conv_node = node.args[0] if node.args else None
        if not (isinstance(conv_node, fx.Node) and conv_node.op == "call_module"):
            continue
        conv = modules.get(conv_node.target)
        if not isinstance(conv, nn.Conv2d) or len(conv_node.users) != 1:
            continue
        if sites[conv_node.target] != 1 or sites[node.target] != 1 or len(node.kwargs):
            continue
        _fold_into(conv, bn)
        node.replace_all_uses_with(conv_node)
        graph.erase_node(node)
        folded += 1
    return folded


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """conv -> bn  ==  conv with weight * g and bias * g + (beta - mean * g), g = gamma/std."""
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    shift = -bn.running_mean.double() * scale
    if bn.affine:
        scale = scale * bn.weight.double()
        shift = shift * bn.weight.double() + bn.bias.double()
    weight = conv.weight.double() * scale.view(-1, *([1] * (conv.weight.dim() - 1)))
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    layout = (
        torch.channels_last
        if conv.weight.is_contiguous(memory_format=torch.channels_last)
        and not conv.weight.is_contiguous()
        else torch.contiguous_format
    )
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter(weight.to(dtype).contiguous(memory_format=layout), False)
    conv.bias = nn.Parameter((bias * scale + shift).to(dtype), False)


def _fold_static_paddings(model: nn.Module) -> int:
    """Move a symmetric ``static_padding = ZeroPad2d(p)`` into the convolution's own padding."""
    folded = 0
    for conv in model.modules():
        pad = getattr(conv, "static_padding", None)
        if not (isinstance(conv, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d)):
            continue
        if conv.padding_mode != "zeros" or tuple(conv.padding) != (0, 0):
            continue
        if len(set(pad.padding)) != 1:  # asymmetric "same" padding (stride 2): keep it
            continue
        conv.padding = (pad.padding[0], pad.padding[0])
        conv.static_padding = nn.Identity()
        folded += 1
    return folded


def _inplace_activations(graph: fx.Graph, modules: dict[str, nn.Module]) -> int:
    """Run SiLU/ReLU/LeakyReLU in place where their input is a conv/BN output nothing else reads."""
    changed = 0
    for node in list(graph.nodes):
        act = modules.get(node.target) if node.op == "call_module" else None
        function = _INPLACE.get(type(act))
        if function is None or getattr(act, "inplace", False) or len(node.args) != 1:
            continue
        source = node.args[0]
        if not (isinstance(source, fx.Node) and source.op == "call_module"):
            continue
        if not isinstance(modules.get(source.target), nn.Conv2d | nn.BatchNorm2d):
            continue
        if len(source.users) != 1:
            continue
        kwargs: dict[str, object] = {"inplace": True}
        if isinstance(act, nn.LeakyReLU):
            kwargs["negative_slope"] = act.negative_slope
        with graph.inserting_after(node):
            replacement = graph.call_function(function, (source,), kwargs)
        node.replace_all_uses_with(replacement)
        graph.erase_node(node)
        changed += 1
    return changed
