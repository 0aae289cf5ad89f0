"""Mixture of experts: how many routed experts' weights one forward pass reads, and expert parallelism.

A MoE layer has ``E`` routed experts, of which each token uses ``k``, plus
shared experts that every token uses. The FLOPs follow the active experts
(``k`` + shared per token); the weight bytes follow the experts that at least
one token of the pass was routed to:

* ``experts_read="all"`` (`Conventions`): every expert is read, as at large batch;
* ``experts_read="touched"``: the expected number of distinct experts that the
  ``B·S_i`` tokens are routed to, under uniform routing (`expected_distinct_experts`).

Expert parallelism (``Conventions.expert_parallel = EP``) splits the routed
experts over EP GPUs, ``E/EP`` each, and the `Cost` is that of **one GPU** in a
deployment where each GPU runs attention (and the shared experts) for its own
``B`` sequences (data-parallel attention, as DeepSeek-V3 serves decode) and the
all-to-all sends every token to the GPUs holding its experts. Each GPU's experts
then see the tokens of all EP GPUs, ``EP·B·S_i``, and receive in expectation
``EP·B·S_i·k/EP = B·S_i·k`` token-expert pairs: the routed FLOPs per GPU equal
the unsharded model's at batch ``B``, while the expert weights per GPU are
``1/EP`` of those touched by the ``EP·B·S_i`` tokens. (In terms of the group's
batch ``B_g = EP·B``: routed FLOPs ``∝ B_g·S_i·k/EP`` per GPU.) The all-to-all
traffic is not counted here.

Examples
--------
>>> from symroof.symbols import E, k_e
>>> expected_distinct_experts(8, 2, 1), expected_distinct_experts(8, 2, 2)   # 8·(1 − (3/4)²)
(2, 7/2)
>>> expected_distinct_experts(E, k_e, 1)
k_e
"""

from __future__ import annotations

from typing import Any

import sympy

from symroof._values import as_count
from symroof.cost.conventions import Conventions
from symroof.model.layers import FFN

__all__ = ["expected_distinct_experts", "routed_experts_read"]


def expected_distinct_experts(experts: Any, per_token: Any, tokens: Any) -> sympy.Expr:
    """Expected number of distinct experts chosen by ``tokens`` tokens, each routed to
    ``per_token`` distinct experts out of ``experts``, uniformly and independently:

        E · (1 − (1 − k/E)^t)

    Derivation: one token picks a uniformly random ``k``-subset of the ``E``
    experts; a given expert is in it with probability ``C(E−1, k−1)/C(E, k) = k/E``,
    so it is missed by that token with probability ``1 − k/E``. Tokens choose
    independently, so the expert is missed by all ``t`` tokens with probability
    ``(1 − k/E)^t`` and touched with probability ``1 − (1 − k/E)^t``. The number of
    distinct experts touched is the sum over the ``E`` experts of the indicator
    "touched"; by linearity of expectation its mean is ``E·(1 − (1 − k/E)^t)``.
    It is ``k`` at ``t = 1``, grows with ``t``, and tends to ``E`` (every expert
    read) as ``t → ∞``; with ``k = E`` it is ``E`` for every ``t``.

    Exact: with numbers it is a Rational (whose digits grow with ``t``).

    >>> expected_distinct_experts(256, 8, 1000) < 256
    True
    >>> float(256 - expected_distinct_experts(256, 8, 1000)) < 1e-11
    True
    """
    e = as_count(experts, "experts")
    k = as_count(per_token, "experts_per_token")
    t = as_count(tokens, "tokens")
    if (e - k).is_negative:
        raise ValueError(f"experts_per_token={k} must not exceed experts={e}")
    return e * (1 - (1 - k / e) ** t)


def routed_experts_read(ffn: FFN, conv: Conventions, tokens: Any) -> sympy.Expr:
    """Routed experts of ``ffn`` whose weights one GPU reads in a pass of ``tokens`` (= B·S_i) tokens.

    ``all``: ``E/EP``. ``touched``: ``E·(1 − (1 − k/E)^(EP·t))/EP`` (the GPU's share of the
    experts touched by the ``EP·t`` tokens of the expert-parallel group; every expert is
    equally likely to be touched, so the share is exact in expectation).
    """
    ep = conv.expert_parallel
    if ffn.experts.is_Integer and ep.is_Integer and ffn.experts % ep != 0:
        raise ValueError(f"expert_parallel={ep} must divide experts={ffn.experts}")
    if conv.experts_read == "all":
        return ffn.experts / ep
    return expected_distinct_experts(ffn.experts, ffn.experts_per_token, ep * tokens) / ep
