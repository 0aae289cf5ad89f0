"""Parameter counts of an `Arch`, by matrix, as exact expressions.

Names follow the FLOP terms: ``attention/q``, ``attention/k``, ``attention/v``,
``attention/out``, ``ffn/gate``, ``ffn/up``, ``ffn/down`` (per layer), plus
``norm`` and, once per model, ``embedding``, ``positions``, ``final_norm`` and
``lm_head`` (zero when tied). Multi-head latent attention has
``attention/q_down``, ``attention/q_up`` (or ``attention/q`` without a query
bottleneck), ``attention/kv_down``, ``attention/kv_up`` and ``attention/out``
(see `symroof.mla`); a MoE layer adds ``ffn/router``.

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

__all__ = ["NAMES", "active_parameters", "expert_parameters", "layer_parameters", "model_parameters",
           "total_parameters"]

# Every name the counts below (and `symroof.mla.parameters`) can give, as in the docstring.
NAMES = ("attention/q", "attention/k", "attention/v", "attention/out", "attention/q_down", "attention/q_up",
         "attention/kv_down", "attention/kv_up", "ffn/gate", "ffn/up", "ffn/down", "ffn/router", "norm",
         "embedding", "positions", "final_norm", "lm_head")


def _ffn_matrices(arch: Arch) -> tuple[str, ...]:
    return ("ffn/gate", "ffn/up", "ffn/down") if arch.ffn_kind == "gated" else ("ffn/up", "ffn/down")


def expert_parameters(arch: Arch, *, biases: bool = True, dense: bool = False) -> dict[str, sympy.Expr]:
    """Parameters of **one** FFN by matrix: one expert of a MoE layer, or the dense FFN
    (``dense=True``, or a dense model)."""
    H = arch.hidden
    width = arch.expert_ffn_dim if arch.is_moe and not dense else arch.ffn_dim
    out = {}
    for name in _ffn_matrices(arch):
        out[name] = H * width
        if biases and arch.mlp_bias:
            out[name] += H if name == "ffn/down" else width
    return out


def layer_parameters(arch: Arch, *, biases: bool = True, norms: bool = True,
                     dense: bool = False) -> dict[str, sympy.Expr]:
    """Parameters of one layer by matrix (all experts of a MoE FFN, and its router).

    ``dense=True``: one of the first ``dense_layers`` layers of a MoE model, whose
    FFN is dense of width ``ffn_dim``.
    """
    H, q, kv = arch.hidden, arch.q_width, arch.kv_width
    if arch.is_mla:
        from symroof.cost import mla

        out = mla.parameters(arch, biases=biases)
    else:
        out = {
            "attention/q": H * q,
            "attention/k": H * kv,
            "attention/v": H * kv,
            "attention/out": q * H,
        }
        if biases and arch.qkv_bias:
            out["attention/q"] += q
            out["attention/k"] += kv
            out["attention/v"] += kv
        if biases and arch.out_bias:
            out["attention/out"] += H
    moe = arch.is_moe and not dense
    experts = arch.experts + arch.shared_experts if moe else 1
    for name, count in expert_parameters(arch, biases=biases, dense=dense).items():
        out[name] = experts * count
    if moe:
        out["ffn/router"] = H * arch.experts
    if norms:
        out["norm"] = 2 * _norm_size(arch)
        if arch.is_mla:
            from symroof.cost import mla

            out["norm"] += mla.norm_parameters(arch)
    return out


def _norm_size(arch: Arch) -> sympy.Expr:
    return 2 * arch.hidden if arch.norm == "layernorm" else arch.hidden


def model_parameters(arch: Arch, *, biases: bool = True, norms: bool = True) -> dict[str, sympy.Expr]:
    """Parameters outside the layers: embeddings, learned positions, final norm, LM head."""
    out = {
        "embedding": arch.vocab * arch.hidden,
        "positions": arch.max_positions * arch.hidden,
        "lm_head": sympy.Integer(0) if arch.tied_embeddings else arch.vocab * arch.hidden,
    }
    if norms:
        out["final_norm"] = _norm_size(arch)
    return {k: v for k, v in out.items() if v != 0}


def total_parameters(arch: Arch, *, embeddings: bool = True, biases: bool = True,
                     norms: bool = True) -> sympy.Expr:
    """Total parameter count: ``N`` layers plus (with ``embeddings``) the model-level tensors.

    A MoE model with ``dense_layers`` counts those layers with their dense FFN.
    """
    require_arch(arch)
    total = arch.layers * sympy.Add(*layer_parameters(arch, biases=biases, norms=norms).values())
    if arch.is_moe and arch.dense_layers != 0:
        total = (arch.moe_layers * sympy.Add(*layer_parameters(arch, biases=biases, norms=norms).values())
                 + arch.dense_layers * sympy.Add(*layer_parameters(arch, biases=biases, norms=norms,
                                                                   dense=True).values()))
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
    if not arch.is_moe:
        return total_parameters(arch, embeddings=embeddings, biases=biases, norms=norms)
    idle = arch.experts - arch.experts_per_token
    per_layer = sympy.Add(*expert_parameters(arch, biases=biases).values())
    return sympy.expand(total_parameters(arch, embeddings=embeddings, biases=biases, norms=norms)
                        - arch.moe_layers * idle * per_layer)
