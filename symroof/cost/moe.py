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

import mpmath
import sympy

from symroof._values import as_count
from symroof.cost.conventions import Conventions
from symroof.model.layers import FFN

__all__ = ["Missed", "expected_distinct_experts", "routed_experts_read"]


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

    The power is `Missed` ``(1 − k/E)^t``: exact while its digits stay few, a 60-digit Float
    beyond (its exact value would have millions of digits at ``t = 10^8``), so any ``B`` returns.

    >>> expected_distinct_experts(256, 8, 1000) < 256
    True
    >>> float(256 - expected_distinct_experts(256, 8, 1000)) < 1e-11
    True
    >>> expected_distinct_experts(8, 2, 10**12)       # 8·(1 − (3/4)^(10^12)): every expert, to 60 digits
    8.00000000000000000000000000000000000000000000000000000000000
    """
    e = as_count(experts, "experts")
    k = as_count(per_token, "experts_per_token")
    t = as_count(tokens, "tokens")
    if (e - k).is_negative:
        raise ValueError(f"experts_per_token={k} must not exceed experts={e}")
    return e * (1 - Missed(1 - k / e, t))


class Missed(sympy.Function):
    """``share ** tokens``: the chance that ``tokens`` independent tokens all miss one expert.

    It stays unevaluated while ``tokens`` is a symbol (and prints as the power), is exact while the
    exact power has at most ``EXACT_BITS`` bits, and is a 60-digit Float beyond (computed by mpmath),
    so that a substitution such as ``B = 10^8`` returns at once.

    >>> from symroof.symbols import B
    >>> Missed(sympy.Rational(3, 4), 2), Missed(sympy.Rational(3, 4), B).subs(B, 3)
    (9/16, 27/64)
    """

    EXACT_BITS = 4096
    DIGITS = 60

    @classmethod
    def eval(cls, share: sympy.Expr, tokens: sympy.Expr) -> sympy.Expr | None:
        if tokens == 1:
            return share
        if share in (0, 1):
            return share
        if share.is_Rational and tokens.is_Integer:
            if int(tokens) * max(abs(share.p), share.q).bit_length() <= cls.EXACT_BITS:
                return share ** tokens
            with mpmath.workdps(cls.DIGITS + 10):
                return sympy.Float(mpmath.power(mpmath.mpf(share.p) / share.q, int(tokens)), cls.DIGITS)
        if share.is_Float and tokens.is_Number:
            return share ** tokens
        return None

    def _eval_rewrite_as_Pow(self, share: sympy.Expr, tokens: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return sympy.Pow(share, tokens)

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        share, tokens = (a.evalf(prec) for a in self.args)
        return sympy.Pow(share, tokens).evalf(prec)

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_positive

    def _latex(self, printer: Any) -> str:
        return str(printer._print(sympy.Pow(*self.args, evaluate=False)))


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
