"""Model phases. Prefill and decode are the same `step` at particular arguments.

* ``prefill``: ``S_i = S`` new tokens per sequence over an empty cache.
* ``decode``: ``S_i`` (default 1) new tokens over ``S_c`` cached ones.
* ``step``: the general pass, ``S_i`` new tokens over ``S_c`` cached (speculative
  decoding verifies ``S_i = k`` drafted tokens; chunked prefill adds chunks).

Examples
--------
>>> from symroof.model.arch import Arch
>>> from symroof.symbols import B, S, H, N
>>> sympy.factor(prefill(Arch.symbolic(), "arithmetic-intensity").flops)
4*B*H*N*S*(6*H + S)
"""

from __future__ import annotations

from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_count, as_value
from symroof.cost import Cost
from symroof.cost import components as C
from symroof.cost.conventions import Conventions, resolve
from symroof.model import params as _params
from symroof.model.arch import Arch, require_arch

__all__ = ["decode", "nominal_parameters", "prefill", "step"]

GIGA = sympy.Integer(10) ** 9


def nominal_parameters(arch: Arch) -> sympy.Expr:
    """The model's size in parameters: ``params_b·10^9`` if given, else the exact count."""
    if arch.params_b is not None:
        return arch.params_b * GIGA
    return _params.total_parameters(arch)


def step(arch: Arch, conventions: Conventions | str | None = None, *,
         B: Any = sym.B, S_i: Any = sym.S_i, S_c: Any = sym.S_c) -> Cost:
    """One forward pass of ``B`` sequences, each ``S_i`` new tokens over ``S_c`` cached.

    Returns the whole model's `Cost`: each group of ``arch.groups`` (count × the cost of its
    layer), plus the LM head and embeddings as the conventions say.
    """
    conv = resolve(conventions)
    require_arch(arch)
    # the symbols' own rules first, so a bad value is named as the caller wrote it (B, S_i, S_c)
    st = C.Step(as_value(sym.B, B), as_value(sym.S_i, S_i), as_value(sym.S_c, S_c))
    layers = sum((count * C.layer(arch, conv, st, layer=g) for count, g in arch.groups), Cost())
    cost = layers + C.lm_head(arch, conv, st) + C.embeddings(arch, conv, st) + C.rope(arch, conv, st)
    if conv.flops == "params":
        # 003: every parameter is one multiply-add per token: 2·P FLOPs per token.
        # A MoE token only multiplies its active parameters (when no nominal size is given).
        used = (_params.active_parameters(arch) if arch.is_moe and arch.params_b is None
                else nominal_parameters(arch))
        cost = Cost({"params": 2 * used * st.tokens}, cost.byte_terms)
    if conv.weights == "nominal":
        cost = cost + Cost(bytes={"weights": arch.weight_bytes * nominal_parameters(arch)})
    return cost


def prefill(arch: Arch, conventions: Conventions | str | None = None, *,
            B: Any = sym.B, S: Any = sym.S) -> Cost:
    """Prefill: ``S`` prompt tokens per sequence over an empty cache (``step(S_i=S, S_c=0)``)."""
    return step(arch, conventions, B=B, S_i=as_count(S, "S"), S_c=0)   # a bad S is named S, not S_i


def decode(arch: Arch, conventions: Conventions | str | None = None, *,
           B: Any = sym.B, S_c: Any = sym.S_c, S_i: Any = 1) -> Cost:
    """Decode: ``S_i`` (default 1) new tokens per sequence over ``S_c`` cached ones."""
    return step(arch, conventions, B=B, S_i=S_i, S_c=S_c)
