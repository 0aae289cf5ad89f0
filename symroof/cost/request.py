"""Whole requests in closed form: a prompt of ``S`` tokens, then ``G`` decode steps, for ``B`` sequences.

A request is the prefill of ``S`` tokens and the decode steps over ``S_c = S, S+1, ..., S+G-1``
(the procedure of LLM-Viewer's ``analyze_generate_task``: hahnyuan/LLM-Viewer,
``analyzers/llm_analyzer.py``, ``for i in range(prompt_len, prompt_len + gen_len)``). Every term
of `request` is the exact sum of that term over the steps, in closed form:

* full attention: a polynomial in ``S`` and ``G`` (each step's terms are polynomials in ``S_c``,
  summed by Faulhaber's antidifference, `range_sum`);
* a sliding window ``W``: a step's keys are ``min(S_c + 1, W)``, so the sum splits at the step
  whose context reaches the window, ``S_c = W - 1``; the closed form carries that breakpoint as
  ``Min``/``Max`` of ``S``, ``S + G - 1`` and ``W - 1`` (exact at every integer);
* any ``Min``/``Max`` whose arguments are linear in the summed variable is split the same way,
  which is also how the roofline's ``max(compute, memory)`` is summed (`symroof.analysis.request`).

Chunked layers (``Mod(S_c, C_a)``) have no closed form here: with numbers their sum is exact (a
finite sum), with symbols a ``ValueError``.

`chunked_prefill` (chunks of ``C_p`` tokens, each over the chunks before it) and
`shared_prefix_prefill` (a prefix of ``S_p`` tokens computed once for the ``B`` requests) change
the prefill only; `request` takes ``chunk=`` and ``prefix=`` for them.

Examples
--------
>>> import sympy, symroof
>>> from symroof.symbols import S, S_g, B
>>> gpt = symroof.Arch.symbolic()
>>> r = request(gpt, "arithmetic-intensity")        # B prompts of S tokens, S_g generated each
>>> sympy.factor(r.flops_of("attention/scores"))     # 000: 2·B·S²·H·N, then 2·B·S_c·H·N per step
B*H*N*(2*S**2 + 2*S*S_g + S_g**2 - S_g)
>>> range_sum(sympy.Min(S + 1, 4096), S, 4090, 4100)  # (4091 + ... + 4096) + 5·4096
45041
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_count
from symroof.cost.base import Cost
from symroof.cost.conventions import Conventions, resolve
from symroof.cost.phases import decode, prefill, step
from symroof.model.arch import Arch, require_arch

__all__ = ["chunked_prefill", "decode_steps", "mean_context", "range_sum", "request", "shared_prefix_prefill"]

# Above this many terms a finite sum (chunked attention's Mod, with numbers) is refused.
MAX_FINITE_TERMS = 200_000


# ---- exact sums over a range of integers --------------------------------------------------------------
@cache
def _antidifference(j: int) -> tuple[sympy.Symbol, sympy.Expr]:
    """``P_j(n) = Σ_{k=0}^{n-1} k^j`` as a polynomial in ``n`` (Faulhaber), so ``Σ_{x=a}^{b} x^j =
    P_j(b+1) − P_j(a)`` for all integers ``a ≤ b + 1`` (``P_j(n+1) − P_j(n) = n^j`` identically)."""
    n, k = sympy.Symbol("n", integer=True), sympy.Symbol("k", integer=True)
    return n, sympy.expand(sympy.summation(k**j, (k, 0, n - 1)))


def _poly_sum(poly: sympy.Expr, x: sympy.Symbol, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    out = sympy.Integer(0)
    for (j,), coeff in sympy.Poly(poly, x).terms():
        n, p = _antidifference(int(j))
        out += coeff * (p.subs(n, hi + 1) - p.subs(n, lo))
    return out


def _known(e: sympy.Expr) -> bool:
    return bool(e.is_number)


def _innermost(expr: sympy.Expr, x: sympy.Symbol) -> sympy.Basic | None:
    """A ``Min``/``Max`` containing ``x`` with no such atom inside its arguments."""
    atoms = [a for a in expr.atoms(sympy.Min, sympy.Max) if x in a.free_symbols]
    for a in sorted(atoms, key=sympy.default_sort_key):
        if not any(b is not a and x in b.free_symbols for arg in a.args for b in arg.atoms(sympy.Min, sympy.Max)):
            return a
    return None


def _numbers_evaluated(e: sympy.Expr) -> sympy.Expr:
    """``e`` with every ``Min``/``Max`` of numbers evaluated: SymPy factors ``Min(Max(2, a), Max(6, a))`` into
    ``Max(a, Min(2, 6))`` and leaves the ``Min(2, 6)`` unevaluated, so that a value substituted for ``a``
    later would give an unevaluated expression, not a number."""
    return e.replace(lambda a: isinstance(a, (sympy.Min, sympy.Max)) and a.is_number, lambda a: a.func(*a.args))


def _sign(e: sympy.Expr) -> int | None:
    if e.is_positive:
        return 1
    if e.is_negative:
        return -1
    if e.is_zero:
        return 0
    return None


def range_sum(expr: Any, x: sympy.Symbol, lo: Any, hi: Any) -> sympy.Expr:
    """``Σ_{x=lo}^{hi} expr`` exactly, in closed form, for ``hi ≥ lo − 1`` (``hi = lo − 1``: empty).

    ``expr`` is a polynomial in ``x`` with ``Min``/``Max`` whose arguments are linear in ``x`` (nested
    or not): the innermost one is split where its first two arguments cross,
    ``m = Min(Max(⌊t⌋, lo − 1), hi)`` with ``t`` the crossing, and each part summed on its own
    range (``[lo, m]`` and ``[m + 1, hi]``); a polynomial is summed by Faulhaber. A slope of unknown
    sign gives a ``Piecewise``. Anything else (``Mod``, ``floor`` in ``x``) is summed term by term
    when ``lo`` and ``hi`` are numbers (exact, not closed), else ``ValueError``.
    """
    expr = sympy.sympify(expr)
    lo, hi = sympy.sympify(lo), sympy.sympify(hi)
    if _known(hi - lo) and hi - lo < -1:
        raise ValueError(f"range_sum: hi={hi} must be at least lo - 1 = {lo - 1}")
    if _known(hi - lo) and hi - lo == -1:
        return sympy.Integer(0)
    if x not in expr.free_symbols:
        return (hi - lo + 1) * expr
    atom = _innermost(expr, x)
    if atom is None:
        if expr.is_polynomial(x):
            return _poly_sum(sympy.expand(expr), x, lo, hi)
        return _finite_sum(expr, x, lo, hi)
    first, second = atom.args[0], atom.args[1]
    diff = sympy.expand(first - second)           # first ≤ second  ⇔  d·x + e ≤ 0
    if not diff.is_polynomial(x) or sympy.degree(diff, x) > 1:
        return _finite_sum(expr, x, lo, hi)
    d, e = diff.coeff(x, 1), diff.coeff(x, 0)
    def rest(drop: sympy.Expr) -> sympy.Expr:
        return expr.xreplace({atom: atom.func(*[a for a in atom.args if a is not drop])})

    # ``le``: the expression where first ≤ second (Min keeps first, Max keeps second); ``gt``: elsewhere
    le, gt = (rest(second), rest(first)) if atom.func is sympy.Min else (rest(first), rest(second))

    def split(sign: int) -> sympy.Expr:
        if sign == 0:
            if _known(e):
                return range_sum(le if e <= 0 else gt, x, lo, hi)
            return sympy.Piecewise((range_sum(le, x, lo, hi), e <= 0), (range_sum(gt, x, lo, hi), True))
        if sign > 0:                               # x ≤ -e/d: first ≤ second
            cut, below, above = sympy.floor(-e / d), le, gt
        else:                                      # x ≥ -e/d: first ≤ second
            cut, below, above = sympy.ceiling(-e / d) - 1, gt, le
        m = _numbers_evaluated(sympy.Min(sympy.Max(cut, lo - 1), hi))
        return range_sum(below, x, lo, m) + range_sum(above, x, m + 1, hi)

    sign = _sign(d)
    if sign is not None:
        return split(sign)
    return sympy.Piecewise((split(1), d > 0), (split(-1), d < 0), (split(0), True))


def _finite_sum(expr: sympy.Expr, x: sympy.Symbol, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    if not (_known(lo) and _known(hi)):
        raise ValueError(f"no closed form for the sum over {x} of {expr} (chunked attention's Mod, or a "
                         f"non-linear bound): give numbers for the range")
    if hi - lo + 1 > MAX_FINITE_TERMS:
        raise ValueError(f"a finite sum of {hi - lo + 1} terms over {x} is over the {MAX_FINITE_TERMS}-term limit")
    return sympy.Add(*(expr.subs(x, k) for k in range(int(lo), int(hi) + 1)))


def _sum_cost(cost: Cost, x: sympy.Symbol, lo: Any, hi: Any) -> Cost:
    return Cost({k: range_sum(v, x, lo, hi) for k, v in cost.flop_terms.items()},
                {k: range_sum(v, x, lo, hi) for k, v in cost.byte_terms.items()})


# ---- a request -----------------------------------------------------------------------------------------
def _sizes(S: Any, G: Any, B: Any) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    return as_count(S, "S"), as_count(G, "G"), as_count(B, "B")


def decode_steps(arch: Arch, conventions: Conventions | str | None = None, *, S: Any = sym.S,
                 G: Any = sym.S_g, B: Any = sym.B) -> Cost:
    """The ``G`` decode steps of ``B`` sequences after a prompt of ``S``: every term summed over
    ``S_c = S, ..., S+G-1`` in closed form (`range_sum` of the step at a symbolic ``S_c``)."""
    conv = resolve(conventions)
    require_arch(arch)
    S, G, B = _sizes(S, G, B)
    return _sum_cost(decode(arch, conv, B=B, S_c=sym.S_c), sym.S_c, S, S + G - 1)


def chunked_prefill(arch: Arch, conventions: Conventions | str | None = None, *, S: Any = sym.S,
                    chunk: Any = sym.C_p, B: Any = sym.B) -> Cost:
    """Prefill of ``S = n·C_p`` tokens in ``n`` chunks of ``C_p``, chunk ``j`` over the ``j·C_p`` before it:
    ``prefill(C_p) + Σ_{j=1}^{n-1} step(S_i=C_p, S_c=j·C_p)``, summed over ``j`` in closed form.

    Each chunk is one `step` as the conventions count it: the weights are read ``n`` times, the
    cached chunks' K and V are read again, and under ``lm_head="last"`` each chunk's pass computes
    one position's logits. With causal scores the query-key pairs are those of the whole prompt.
    ``C_p`` must divide ``S`` (checked when both are numbers).
    """
    conv = resolve(conventions)
    require_arch(arch)
    S, B = as_count(S, "S"), as_count(B, "B")
    c_p = as_count(chunk, "chunk")
    n = S / c_p
    if n.is_number and not n.is_integer:
        raise ValueError(f"chunk={chunk} must divide S={S}")
    j = sympy.Symbol("j", integer=True, positive=True)
    rest = _sum_cost(step(arch, conv, B=B, S_i=c_p, S_c=j * c_p), j, 1, n - 1)
    return prefill(arch, conv, B=B, S=c_p) + rest


def shared_prefix_prefill(arch: Arch, conventions: Conventions | str | None = None, *, S: Any = sym.S,
                          prefix: Any = sym.S_p, B: Any = sym.B) -> Cost:
    """Prefill of ``B`` prompts of ``S`` tokens whose first ``S_p`` are one shared prefix, computed once
    (prefix caching): ``prefill(B=1, S=S_p) + step(B, S_i=S−S_p, S_c=S_p)``. ``S_p < S`` (checked
    for numbers); the decode steps are unchanged (each sequence still attends to the prefix)."""
    conv = resolve(conventions)
    require_arch(arch)
    S, B, p = as_count(S, "S"), as_count(B, "B"), as_count(prefix, "prefix")
    suffix = S - p
    if suffix.is_number and suffix <= 0:
        raise ValueError(f"prefix={prefix} must be shorter than S={S}")
    return prefill(arch, conv, B=1, S=p) + step(arch, conv, B=B, S_i=suffix, S_c=p)


def request(arch: Arch, conventions: Conventions | str | None = None, *, S: Any = sym.S, G: Any = sym.S_g,
            B: Any = sym.B, chunk: Any = None, prefix: Any = None) -> Cost:
    """A whole request: the prefill of ``S`` tokens and the ``G`` decode steps over
    ``S_c = S, ..., S+G-1``, for ``B`` sequences, every term an exact closed-form sum.

    ``chunk=C_p``: the prompt prefilled in chunks (`chunked_prefill`); ``prefix=S_p``: its first
    ``S_p`` tokens shared by the ``B`` requests and computed once (`shared_prefix_prefill`).
    """
    conv = resolve(conventions)
    require_arch(arch)
    S, G, B = _sizes(S, G, B)
    if chunk is not None and prefix is not None:
        raise ValueError("give chunk or prefix, not both")
    if chunk is not None:
        first = chunked_prefill(arch, conv, S=S, chunk=chunk, B=B)
    elif prefix is not None:
        first = shared_prefix_prefill(arch, conv, S=S, prefix=prefix, B=B)
    else:
        first = prefill(arch, conv, B=B, S=S)
    return first + decode_steps(arch, conv, S=S, G=G, B=B)


def mean_context(S: Any = sym.S, G: Any = sym.S_g) -> sympy.Expr:
    """The context of the mean-context approximation, ``S + G/2`` (scaling-book's one step at the
    mean, times ``G``); the mean of the steps' cached lengths is ``S + (G − 1)/2``."""
    return as_count(S, "S") + as_count(G, "G") / 2
