"""Speculative decoding on the roofline: expected tokens per step and the speed-up, exact.

A draft model proposes ``k`` tokens; the target model verifies them in one pass over
``k + 1`` positions (the last accepted token and the ``k`` drafts: ``symroof.step(...,
S_i=k+1)``), which yields one target distribution per position. Under the standard model of
Leviathan, Kalman & Matias 2023 ("Fast Inference from Transformers via Speculative
Decoding", ICML, arXiv 2211.17192, §3.1), each draft token is accepted independently with
probability ``α`` until the first rejection; the rejected position is resampled from the
target (or, if all ``k`` are accepted, one more token comes from the ``(k+1)``-th
distribution), so a step yields ``1 + (accepted drafts)`` tokens, and (their eq. 1)

    E[tokens per step] = Σ_{i=0}^{k} α^i = (1 − α^(k+1)) / (1 − α)

which is 1 at ``α = 0`` and ``k + 1`` as ``α → 1``.

The speed-up over plain decoding, per sequence, is tokens per unit time relative to one
token per plain step:

    speed-up = E[tokens] · t_decode / (t_verify(k+1) + c·k·t_decode)

with ``t_decode`` the roofline time of a plain decode step (``S_i = 1``), ``t_verify`` that of
the verification step (``S_i = k + 1``), both at the same batch ``B`` and cache ``S_c``, and
``c`` the cost of one draft step relative to ``t_decode`` (0: free drafts, e.g. n-gram
lookup; `draft_cost_ratio` computes it for a draft `Arch`). When verification costs one
plain step (memory-bound with bytes independent of ``S_i``, as under 003's conventions) it is
Leviathan et al.'s Theorem 3.8, ``(1 − α^(k+1)) / ((1 − α)(c·k + 1))`` (`leviathan_speedup`).
``S_c`` is held fixed over the step (the cache grows by the accepted tokens afterwards).

Examples
--------
>>> expected_tokens(0.8, 4), float(expected_tokens(0.8, 4))      # (1 − 0.8⁵)/0.2
(2101/625, 3.3616)
>>> expected_tokens(ALPHA, K)
(1 - alpha**(k + 1))/(1 - alpha)
>>> sympy.limit(expected_tokens(ALPHA, K), ALPHA, 1), expected_tokens(0, 5), expected_tokens(1, 5)
(k + 1, 1, 6)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count
from symroof.analysis.serving import step_latency
from symroof.analysis.timing import Latency
from symroof.cost.conventions import Conventions, resolve
from symroof.hardware import Hardware
from symroof.model.arch import Arch

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ALPHA",
    "C",
    "K",
    "Speculation",
    "draft_cost_ratio",
    "expected_tokens",
    "leviathan_speedup",
    "speculative_decoding",
    "speedup_grid",
]

ALPHA = sympy.Symbol("alpha", nonnegative=True)          # acceptance rate of one draft token
K = sympy.Symbol("k", positive=True, integer=True)       # draft tokens per step
C = sympy.Symbol("c", nonnegative=True)                  # cost of a draft step / a target decode step


def _alpha(alpha: Any) -> sympy.Expr:
    a = as_amount(alpha, "alpha", allow_zero=True)
    if a.is_number and a > 1:
        raise ValueError(f"alpha={alpha!r} must be an acceptance rate between 0 and 1")
    return a


def expected_tokens(alpha: Any = ALPHA, k: Any = K) -> sympy.Expr:
    """Expected tokens per verification step, ``(1 − α^(k+1))/(1 − α)`` (Leviathan et al. 2023, eq. 1).

    Exact for numbers (``α = 1`` gives ``k + 1``, the limit); the closed form for symbols.
    ``k = 0`` (no drafts) gives 1.

    >>> expected_tokens(sympy.Rational(1, 2), 2)           # 1 + 1/2 + 1/4
    7/4
    >>> expected_tokens(1.5, 2)
    Traceback (most recent call last):
    ...
    ValueError: alpha=1.5 must be an acceptance rate between 0 and 1
    """
    a, n = _alpha(alpha), as_count(k, "k", allow_zero=True)
    if a == 1:
        return n + 1
    return (1 - a ** (n + 1)) / (1 - a)


def leviathan_speedup(alpha: Any = ALPHA, k: Any = K, c: Any = C) -> sympy.Expr:
    """Leviathan et al. 2023, Theorem 3.8: ``(1 − α^(k+1)) / ((1 − α)(c·k + 1))``, verification = one step.

    >>> leviathan_speedup(0.8, 4, 0)
    2101/625
    """
    return expected_tokens(alpha, k) / (as_amount(c, "c", allow_zero=True) * as_count(k, "k", allow_zero=True) + 1)


@dataclass(frozen=True)
class Speculation:
    """One speculative step on the roofline, exact: the plain decode step, the verification
    step of ``k + 1`` tokens, the draft time, expected tokens and the speed-up."""

    alpha: sympy.Expr
    k: sympy.Expr
    c: sympy.Expr
    decode: Latency
    verify: Latency
    expected_tokens: sympy.Expr

    @property
    def draft_s(self) -> sympy.Expr:
        """Time of the ``k`` draft steps, ``c·k·t_decode``."""
        return self.c * self.k * self.decode.total_s

    @property
    def step_s(self) -> sympy.Expr:
        """Time of one speculative step: drafting plus verification."""
        return self.draft_s + self.verify.total_s

    @property
    def time_per_token_s(self) -> sympy.Expr:
        """Expected time per output token of each sequence."""
        return self.step_s / self.expected_tokens

    @property
    def speedup(self) -> sympy.Expr:
        """``E[tokens]·t_decode / (t_verify + c·k·t_decode)``."""
        return self.expected_tokens * self.decode.total_s / self.step_s

    def __float__(self) -> float:
        return float(self.speedup)


def speculative_decoding(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                         alpha: Any = ALPHA, k: Any = K, c: Any = 0, B: Any = 1, S_c: Any = sym.S_c,
                         **options: Any) -> Speculation:
    """Speculative decoding of ``B`` sequences at cache ``S_c``: see the module docstring.

    ``options`` go to `symroof.serving.step_latency` (``tp``, ``comm``, ``model``, ``dtype``).

    >>> import symroof
    >>> llama = symroof.models.get("llama-3-8b")
    >>> s = speculative_decoding(llama, "003", "H100-SXM", alpha=0.8, k=4, S_c=1024)
    >>> s.verify.total_s == s.decode.total_s                # 003: weights only, memory-bound
    True
    >>> s.speedup == leviathan_speedup(0.8, 4, 0)
    True
    >>> s = speculative_decoding(llama, "exact", "H100-SXM", k=4, B=1, S_c=1024)
    >>> sympy.limit(s.speedup, ALPHA, 0) < 1 < sympy.limit(s.speedup, ALPHA, 1) < 5
    True
    """
    a, n = _alpha(alpha), as_count(k, "k")
    cost = as_amount(c, "c", allow_zero=True)
    conv = resolve(conventions)
    plain = step_latency(arch, conv, hardware, B=B, S_i=1, S_c=S_c, **options)
    verify = step_latency(arch, conv, hardware, B=B, S_i=n + 1, S_c=S_c, **options)
    return Speculation(a, n, cost, plain, verify, expected_tokens(a, n))


def draft_cost_ratio(draft: Arch, target: Arch, conventions: Conventions | str | None,
                     hardware: Hardware | str, *, B: Any = 1, S_c: Any = sym.S_c, **options: Any) -> sympy.Expr:
    """``c``: the roofline time of a draft decode step over that of the target's, same B and S_c.

    >>> import symroof
    >>> small = symroof.models.get("llama-3-8b").replace(params_b=1)
    >>> big = small.replace(params_b=70)
    >>> draft_cost_ratio(small, big, "003", "H100-SXM", S_c=0)   # 003, memory-bound: 2·1e9 / 2·70e9 bytes
    1/70
    """
    conv = resolve(conventions)
    t_draft = step_latency(draft, conv, hardware, B=B, S_i=1, S_c=S_c, **options).total_s
    t_target = step_latency(target, conv, hardware, B=B, S_i=1, S_c=S_c, **options).total_s
    return t_draft / t_target


def speedup_grid(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                 alpha: Any, k: Any, c: Any = 0, B: Any = 1, S_c: Any, **options: Any) -> np.ndarray:
    """Speed-up at every ``(alpha, k, c)`` point (numpy broadcasting), float64.

    The exact speed-up of `speculative_decoding` is built once with ``α``, ``k`` and ``c``
    symbolic (`expected_tokens`' closed form over the roofline step times) and compiled
    (`symroof.compile`); no formula is written twice. Points with ``α = 1``, where the
    closed form is ``0/0``, evaluate the same speed-up at ``expected_tokens(1, k) = k + 1``.

    >>> import symroof
    >>> llama = symroof.models.get("llama-3-8b")
    >>> g = speedup_grid(llama, "003", "H100-SXM", alpha=0.8, k=[1, 2, 4, 8], S_c=1024)
    >>> g.round(4).tolist()                                 # 1 + 0.8 + … + 0.8^k
    [1.8, 2.44, 3.3616, 4.3289]
    >>> speedup_grid(llama, "003", "H100-SXM", alpha=[0, 1], k=4, S_c=1024).tolist()   # 1 token; k + 1
    [1.0, 5.0]
    """
    import numpy as np  # here: import symroof does not load numpy

    a = np.asarray(alpha, dtype=np.float64)
    ks = np.asarray(k, dtype=np.float64)
    cs = np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        checks = (("alpha", a, np.isfinite(a) & (a >= 0) & (a <= 1), "acceptance rates between 0 and 1"),
                  ("k", ks, np.isfinite(ks) & (ks >= 1) & (np.floor(ks) == ks), "positive integers"),
                  ("c", cs, np.isfinite(cs) & (cs >= 0),
                   "non-negative draft costs (a draft step over a target decode step)"))
    for name, values, good, rule in checks:
        if not good.all():
            first = float(values[~good].flat[0] if values.ndim else values)
            shown = repr(int(first)) if first.is_integer() else repr(first)     # as typed: 0, not 0.0
            raise ValueError(f"{name} must be {rule}; {name}={shown} is not")
    try:
        shape = np.broadcast_shapes(a.shape, ks.shape, cs.shape)
    except ValueError:
        raise ValueError(f"alpha, k and c must broadcast together (numpy rules); their shapes are "
                         f"{a.shape}, {ks.shape} and {cs.shape}") from None
    spec = speculative_decoding(arch, conventions, hardware, alpha=ALPHA, k=K, c=C, B=B, S_c=S_c, **options)
    extra = sorted(s.name for s in spec.speedup.free_symbols - {ALPHA, K, C})
    if extra:
        raise ValueError(f"the step time depends on {', '.join(extra)}; give them values")
    one = a == 1
    values = {"alpha": np.where(one, 0.0, a), "k": ks, "c": cs}   # α = 1 is taken from `certain`
    general = np.broadcast_to(_evaluate(spec.speedup, values), shape)
    if not one.any():
        return general.copy()
    certain = replace(spec, alpha=sympy.Integer(1), expected_tokens=expected_tokens(1, K))
    return np.where(one, np.broadcast_to(_evaluate(certain.speedup, values), shape), general)


def _evaluate(expr: sympy.Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    """``expr`` compiled (`symroof.compile`) and evaluated, float64, at the arguments it depends on."""
    import numpy as np

    from symroof.evaluate import compile as compile_expr
    ev = compile_expr(expr)
    return np.asarray(ev(**{name: values[name] for name in ev.names}), dtype=np.float64)
