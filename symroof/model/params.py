"""Parameter counts of an `Arch`, by tensor, as exact expressions, read from its layers' matrix tables
(`symroof.model.layers.matrices`).

Names follow the FLOP terms: ``attention/q``, ``attention/k``, ``attention/v``, ``attention/out``,
``ffn/gate``, ``ffn/up``, ``ffn/down`` (per layer; a MoE layer adds ``ffn/router``, and its shared
experts count under the same ``ffn/*`` names), ``attention/sinks`` (gpt-oss), a state-space mixer's
``mixer/*`` projections, ``mixer/conv`` and ``mixer/ssm`` (`symroof.model.statespace`), plus ``norm`` (the
layer's norms, q/k norms and MLA's latent norms) and, once per model, ``embedding``,
``positions``, ``final_norm`` and ``lm_head`` (zero when tied). Multi-head latent attention has
``attention/q_down``, ``attention/q_up`` (or ``attention/q`` without a query bottleneck),
``attention/kv_down``, ``attention/kv_up`` and ``attention/out``.

Examples
--------
>>> from symroof.model.arch import Arch
>>> from symroof.symbols import N, H, V
>>> sympy.factor(sum(layer_parameters(Arch.symbolic(), biases=False, norms=False).values()))
12*H**2
>>> total_parameters(Arch(hidden=8192, layers=64, heads=64, vocab=65536), embeddings=False,
...                  biases=False, norms=False)
51539607552

Mixtral-8x7B: 46.7B parameters, 12.9B of them active per token:

>>> from symroof.model.presets import get
>>> total_parameters(get("mixtral-8x7b")), active_parameters(get("mixtral-8x7b"))
(46702792704, 12879925248)
"""

from __future__ import annotations

import sympy

from symroof.model.arch import Arch, require_arch
from symroof.model.layers import NAMES, Layer, layer_norm_parameters, matrices, norm_parameters

__all__ = ["NAMES", "active_parameters", "expert_parameters", "layer_parameters", "model_parameters",
           "total_parameters", "weight_bytes"]


def _pick(arch: Arch, dense: bool) -> Layer:
    """The layer an old-style call means: a MoE model's MoE layer, or (``dense=True``) its dense one."""
    groups = [g for _, g in arch.groups]
    if dense:
        return next((g for g in groups if g.ffn is None or not g.ffn.is_moe), groups[0])
    return next((g for g in groups if g.ffn is not None and g.ffn.is_moe), groups[-1])


def expert_parameters(arch: Arch, *, biases: bool = True, dense: bool = False,
                      layer: Layer | None = None) -> dict[str, sympy.Expr]:
    """Parameters of **one** routed expert of a MoE layer (or of the dense FFN: ``dense=True``, or a
    dense model), by matrix."""
    layer = layer or _pick(arch, dense)
    out: dict[str, sympy.Expr] = {}
    for m in matrices(layer, arch.hidden):
        if m.name.startswith("ffn/") and m.use in ("routed", "all") and m.name != "ffn/router":
            out[m.name] = m.rows * m.cols + (m.cols if biases and m.bias else 0)
    return out


def layer_parameters(arch: Arch, *, biases: bool = True, norms: bool = True, dense: bool = False,
                     layer: Layer | None = None) -> dict[str, sympy.Expr]:
    """Parameters of one layer by tensor: all experts of a MoE FFN, and its router.

    ``layer``: one of ``arch.groups``' layers; by default the MoE layer of a MoE model (its first
    dense layers with ``dense=True``), or the model's layer.
    """
    layer = layer or _pick(arch, dense)
    out: dict[str, sympy.Expr] = {}
    for m in matrices(layer, arch.hidden):
        count = m.copies * (m.rows * m.cols + (m.cols if biases and m.bias else 0))
        out[m.name] = out.get(m.name, sympy.Integer(0)) + count
    if layer.attention is not None and layer.attention.sinks:
        out["attention/sinks"] = layer.attention.heads
    if layer.mixer is not None:       # a state-space mixer's conv (with its bias) and A_log, D, dt_bias
        out["mixer/conv"] = layer.mixer.conv_parameters
        out["mixer/ssm"] = layer.mixer.ssm_parameters
    if norms:
        out["norm"] = layer_norm_parameters(layer, arch.hidden)
    return out


def model_parameters(arch: Arch, *, biases: bool = True, norms: bool = True) -> dict[str, sympy.Expr]:
    """Parameters outside the layers: embeddings, learned positions, final norm, LM head."""
    out = {
        "embedding": arch.vocab * arch.hidden,
        "positions": arch.max_positions * arch.hidden,
        "lm_head": (sympy.Integer(0) if arch.tied_embeddings else arch.vocab * arch.hidden)
        + (arch.vocab if biases and arch.head_bias else 0),
    }
    if norms:
        out["final_norm"] = norm_parameters(arch.norm, arch.hidden)
    return {k: v for k, v in out.items() if v != 0}


def total_parameters(arch: Arch, *, embeddings: bool = True, biases: bool = True,
                     norms: bool = True) -> sympy.Expr:
    """Total parameter count: every group of layers, plus (with ``embeddings``) the model-level tensors."""
    require_arch(arch)
    total = sympy.Add(*(n * sympy.Add(*layer_parameters(arch, biases=biases, norms=norms, layer=g).values())
                        for n, g in arch.groups))
    if embeddings:
        total += sympy.Add(*model_parameters(arch, biases=biases, norms=norms).values())
    elif norms:
        total += model_parameters(arch, norms=True).get("final_norm", 0)
    return sympy.expand(total)


def active_parameters(arch: Arch, *, embeddings: bool = True, biases: bool = True,
                      norms: bool = True) -> sympy.Expr:
    """Parameters one token uses: `total_parameters` with each MoE layer's routed experts cut
    to the ``experts_per_token`` active ones (shared experts and the router stay).

    With ``embeddings`` the embedding table and the LM head count (Mixtral's "12.9B active");
    DeepSeek-V3's "37B activated" counts the LM head but not the embedding table (a gather).
    A dense model's active parameters are all its parameters.
    """
    idle = sympy.Integer(0)
    for n, g in arch.groups:
        if g.ffn is not None and g.ffn.is_moe:
            one = sympy.Add(*expert_parameters(arch, biases=biases, layer=g).values())
            idle += n * (g.ffn.experts - g.ffn.experts_per_token) * one
    return sympy.expand(total_parameters(arch, embeddings=embeddings, biases=biases, norms=norms) - idle)


def weight_bytes(arch: Arch) -> sympy.Expr:
    """Bytes of every parameter at its own bytes per element (`Arch.bytes_of`; a quantised matrix keeps
    its bias at the bytes of ``"bias"``): what a checkpoint of ``arch`` holds.

    >>> # 2 bytes · (FFN 8·32·2 + attention 8·8·4 + two norms 2·8 + final norm 8 + tied table 10·8)
    >>> weight_bytes(Arch(hidden=8, layers=1, heads=2, vocab=10, weight_bytes=2))
    1744
    """
    total = sympy.Integer(0)
    for n, g in arch.groups:
        layer = sympy.Integer(0)
        for m in matrices(g, arch.hidden):
            layer += m.copies * (m.rows * m.cols * arch.bytes_of(m.name) + (m.cols * arch.bytes_of("bias") if m.bias
                                                                              else 0))
        extra = layer_parameters(arch, layer=g)
        for name in ("attention/sinks", "norm", "mixer/conv", "mixer/ssm"):
            layer += extra.get(name, 0) * arch.bytes_of(name)
        total += n * layer
    total += sympy.Add(*(count * arch.bytes_of(name) for name, count in model_parameters(arch).items()))
    return sympy.expand(total)
