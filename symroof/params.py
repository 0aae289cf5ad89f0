"""Parameter counts of an `Arch`, by matrix, as exact expressions.

Names follow the FLOP terms: ``attention/q``, ``attention/k``, ``attention/v``,
``attention/out``, ``ffn/gate``, ``ffn/up``, ``ffn/down`` (per layer), plus
``norm`` and, once per model, ``embedding``, ``positions``, ``final_norm`` and
``lm_head`` (zero when tied).

Examples
--------
>>> from symroof.arch import Arch
>>> from symroof.symbols import N, H, V
>>> sympy.factor(sum(layer_parameters(Arch.symbolic(), biases=False, norms=False).values()))
12*H**2
>>> total_parameters(Arch(hidden=8192, layers=64, heads=64, vocab=65536), embeddings=False,
...                  biases=False, norms=False)
51539607552
"""

from __future__ import annotations

import sympy

from symroof.arch import Arch

__all__ = ["layer_parameters", "model_parameters", "total_parameters"]


def _ffn_matrices(arch: Arch) -> tuple[str, ...]:
    return ("ffn/gate", "ffn/up", "ffn/down") if arch.ffn_kind == "gated" else ("ffn/up", "ffn/down")


def layer_parameters(arch: Arch, *, biases: bool = True, norms: bool = True) -> dict[str, sympy.Expr]:
    """Parameters of one layer by matrix (all experts of a MoE FFN, and its router)."""
    H, q, kv = arch.hidden, arch.q_width, arch.kv_width
    out: dict[str, sympy.Expr] = {
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
    experts = arch.experts + arch.shared_experts if arch.is_moe else 1
    width = arch.expert_ffn_dim if arch.is_moe else arch.ffn_dim
    for name in _ffn_matrices(arch):
        out[name] = experts * H * width
        if biases and arch.mlp_bias:
            out[name] += experts * (H if name == "ffn/down" else width)
    if arch.is_moe:
        out["ffn/router"] = H * arch.experts
    if norms:
        out["norm"] = 2 * _norm_size(arch)
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
    """Total parameter count: ``N`` layers plus (with ``embeddings``) the model-level tensors."""
    total = arch.layers * sympy.Add(*layer_parameters(arch, biases=biases, norms=norms).values())
    if embeddings:
        total += sympy.Add(*model_parameters(arch, biases=biases, norms=norms).values())
    elif norms:
        total += model_parameters(arch, norms=True).get("final_norm", 0)
    return sympy.expand(total)
