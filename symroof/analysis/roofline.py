"""Analysis of a `Cost` on an accelerator: balance, regime, limits and crossover points.

The roofline compares a step's arithmetic intensity ``I`` (FLOPs per byte) with
the machine balance ``π/β`` (peak FLOP/s over memory bandwidth): ``I ≥ π/β`` is
compute-bound, ``I < π/β`` memory-bound. For the models of symroof ``I`` is a
ratio of polynomials in each workload size (linear over linear in ``B``), so
limits come from leading coefficients and crossovers from a polynomial equation
``FLOPs·q_β − bytes·p_π = 0``, solved exactly, never by a general ``solve``.

Latency, tensor-parallel communication (`communication`, the conventions' choice of
model) and KV-cache capacity are in `symroof.timing` and re-exported here.

Examples
--------
>>> import symroof
>>> from symroof.symbols import B, S_c
>>> balance("A100-80GB")
312000/2039
>>> cost = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes", S_c=0)
>>> c = crossover_batch(cost, "A100-80GB")
>>> c.exists, c.ceiling
(True, 155)
>>> long = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes", S_c=32768)
>>> crossover_batch(long, "A100-80GB").exists                  # GQA: the limit in B is ≈ 7.5
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import mpmath
import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count
from symroof.analysis.timing import (
    Capacity,
    Comm,
    Latency,
    communication,
    kv_capacity,
    latency,
    time_per_output_token,
    time_to_first_token,
    tp_communication,
)
from symroof.cost import Cost, substitutions
from symroof.hardware import Hardware, hardware_of  # hardware_of: re-exported (it lived here)
from symroof.printing import to_latex

__all__ = [
    "Capacity",
    "Comm",
    "Crossover",
    "Latency",
    "Limit",
    "balance",
    "communication",
    "crossover",
    "crossover_batch",
    "intensity_limit",
    "kv_capacity",
    "latency",
    "regime",
    "time_per_output_token",
    "time_to_first_token",
    "tp_communication",
]

Regime = Literal["compute", "memory"]


# ---- balance and regime ----------------------------------------------------------------------
def balance(hardware: Hardware | str, dtype: str | None = None) -> sympy.Expr:
    """Machine balance, FLOPs per byte: peak FLOP/s over memory bandwidth, exact.

    >>> balance("A100-80GB"), round(balance("A100-80GB"))      # 000: "≈ 153 FLOPs/Byte"
    (312000/2039, 153)
    >>> a100_003 = Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12)  # 003's 312e12 and 1.5e12
    >>> balance(a100_003)
    208
    """
    return hardware_of(hardware, dtype).balance


def _balance_of(hardware_or_balance: Any, dtype: str | None) -> sympy.Expr:
    if isinstance(hardware_or_balance, (Hardware, str)):
        return balance(hardware_or_balance, dtype)
    return as_amount(hardware_or_balance, "balance")


def _table(values: Mapping[str, Any]) -> dict[sympy.Symbol, sympy.Expr]:
    """Validated substitutions: counts are integers (S_c may be 0), amounts positive."""
    try:
        table = substitutions(values)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    return {s: (as_count(v, s.name, allow_zero=s is sym.S_c) if s.is_integer else as_amount(v, s.name))
            for s, v in table.items()}


def _intensity(cost_or_expr: Cost | sympy.Expr, table: Mapping[sympy.Symbol, Any]) -> sympy.Expr:
    if isinstance(cost_or_expr, Cost):
        expr = cost_or_expr.intensity
    elif isinstance(cost_or_expr, sympy.Expr):
        expr = cost_or_expr
    else:
        raise ValueError(f"expected a Cost or a SymPy expression, not {type(cost_or_expr).__name__}")
    return expr.subs(table) if table else expr


def _decide(relation: Any) -> bool | None:
    """True or False when SymPy can decide a relation, else None."""
    if relation in (sympy.true, True):
        return True
    if relation in (sympy.false, False):
        return False
    return None


def regime(cost: Cost, hardware: Hardware | str | Any, *, dtype: str | None = None, **values: Any) -> Regime:
    """``"compute"`` if the intensity is at or above the balance, else ``"memory"``.

    ``hardware`` may also be a balance (a number or an expression such as ``pi/beta``).

    >>> import symroof
    >>> cost = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes")
    >>> regime(cost, "A100-80GB", B=1, S_c=1024), regime(cost, "A100-80GB", B=512, S_c=0)
    ('memory', 'compute')
    """
    table = _table(values)
    expr, bal = _intensity(cost, table), _balance_of(hardware, dtype).subs(table)
    decided = _decide(sympy.Ge(expr, bal))
    if decided is None:
        free = sorted(s.name for s in (expr - bal).free_symbols)
        raise ValueError(f"regime needs values for {', '.join(free)} (intensity {expr}, balance {bal})")
    return "compute" if decided else "memory"


# ---- limits ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    """The limit of the intensity as ``symbol`` grows without bound, with a readable reason."""

    symbol: sympy.Symbol
    value: sympy.Expr
    explanation: str

    def __float__(self) -> float:
        return float(self.value)


def _polys(expr: sympy.Expr, x: sympy.Symbol) -> tuple[sympy.Poly, sympy.Poly]:
    """Numerator and denominator of ``expr`` as polynomials in ``x``, denominator kept positive."""
    num, den = sympy.fraction(sympy.together(expr))
    try:
        p, q = sympy.Poly(num, x), sympy.Poly(den, x)
    except sympy.PolynomialError:
        raise ValueError(f"the intensity is not a ratio of polynomials in {x}: {expr}") from None
    if q.LC().is_negative:
        p, q = -p, -q
    return p, q


def _limit(p: sympy.Poly, q: sympy.Poly) -> sympy.Expr:
    """Limit of p/q at +∞ (leading coefficients of cost polynomials are positive)."""
    if p.is_zero or p.degree() < q.degree():
        return sympy.Integer(0)
    if p.degree() > q.degree():
        return sympy.oo
    return sympy.cancel(p.LC() / q.LC())


def _degree(term: sympy.Expr, x: sympy.Symbol) -> int:
    try:
        return int(sympy.degree(sympy.together(term).as_numer_denom()[0], x))
    except (sympy.PolynomialError, TypeError):
        return -1


def _growth(d: int, x: sympy.Symbol) -> str:
    return "stay constant" if d <= 0 else f"grow like {x}" if d == 1 else f"grow like {x}^{d}"


def _explain(x: sympy.Symbol, value: sympy.Expr, dp: int, dq: int, cost: Cost | None,
             table: Mapping[sympy.Symbol, Any]) -> str:
    text = f"as {x} → ∞ the FLOPs {_growth(dp, x)} and the bytes {_growth(dq, x)}"
    if cost is not None and dq > 0:
        degrees = {n: _degree(t.subs(table), x) for n, t in cost.byte_terms.items()}
        group = lambda d: list(dict.fromkeys(n.split("/")[0] for n, k in degrees.items() if k == d))
        top, fixed = group(dq), group(0)
        text += f" (bytes led by {', '.join(top)}"
        text += f"; {', '.join(fixed)} no longer matter)" if fixed else ")"
    if value is sympy.oo:
        return text + f", so the intensity grows without bound: a large enough {x} is compute-bound"
    if value == 0:
        return text + f", so the intensity falls to 0: a large enough {x} is memory-bound"
    approx = f" ≈ {float(value):.4g}" if value.is_number else ""
    return (text + f", so the intensity tends to the constant {value}{approx} FLOP/byte: "
            f"no {x} takes it beyond that")


def _symbol(unknown: sympy.Symbol | str) -> sympy.Symbol:
    if isinstance(unknown, str):
        try:
            return sym.by_name(unknown)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
    if not isinstance(unknown, sympy.Symbol):
        raise ValueError(f"unknown={unknown!r} must be a symbol or a symbol name")
    return unknown


def intensity_limit(cost_or_expr: Cost | sympy.Expr, symbol: sympy.Symbol | str = sym.B,
                    **values: Any) -> Limit:
    """The limit of the intensity as ``symbol`` → ∞ (other symbols fixed, or given in ``values``).

    Exact: the intensity is a ratio of polynomials in ``symbol``, so the limit
    is ∞, 0, or the ratio of the leading coefficients.

    >>> import symroof
    >>> from symroof.symbols import B, S_c
    >>> arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    >>> lim = intensity_limit(symroof.decode(arch, "000"), B)
    >>> lim.value
    (12*H + 2*S_c)/(S_c + 4)
    >>> intensity_limit(symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes"), S_c).value
    4
    """
    x = _symbol(symbol)
    table = _table(values)
    if x in table:
        raise ValueError(f"{x} is the variable of the limit; do not also give it a value")
    expr = _intensity(cost_or_expr, table)
    cost = cost_or_expr if isinstance(cost_or_expr, Cost) else None
    try:
        p, q = _polys(expr, x)
    except ValueError:
        value = _general_limit(expr, x)
        return Limit(x, value, f"as {x} → ∞ the intensity tends to {_fmt(value)} FLOP/byte (not a ratio of "
                               f"polynomials in {x}: the limit of the expression itself)")
    value = _limit(p, q)
    if cost is not None:      # the degrees of the FLOPs and the bytes themselves, before a common factor cancels
        flops, nbytes = (t.subs(table) if table else t for t in (cost.flops, cost.bytes))
        dp, dq = (-1 if flops == 0 else _degree(flops, x)), _degree(nbytes, x)
    else:
        dp, dq = (-1 if p.is_zero else p.degree()), q.degree()
    return Limit(x, value, _explain(x, value, dp, dq, cost, table))


def _general_limit(expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    """The limit at +∞ of an intensity that is not a ratio of polynomials in ``x``: a window's
    ``Min(S_c, W - 1)``, the experts a batch touches ``(1 − k/E)^B``."""
    try:
        value = sympy.limit(expr.rewrite(sympy.Pow), x, sympy.oo)
    except (NotImplementedError, ValueError, TypeError):
        value = None
    if value is None or isinstance(value, sympy.Limit) or value.has(sympy.AccumBounds):
        raise ValueError(f"no limit of the intensity as {x} → ∞ found for {expr}")
    return sympy.simplify(value)


# ---- crossover -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Crossover:
    """Where the intensity meets the balance, as ``unknown`` varies.

    ``value`` is exact: a number, or a closed form when symbols remain (then
    ``condition`` says when it is a crossover: e.g. ``limit > balance``).
    ``above`` is the regime for ``unknown`` beyond ``value``.
    """

    unknown: sympy.Symbol
    value: sympy.Expr | None
    exists: bool
    reason: str
    limit: sympy.Expr
    balance: sympy.Expr
    condition: sympy.Basic = sympy.true
    above: Regime | None = None
    bracket: tuple[sympy.Expr, sympy.Expr] | None = None   # a numeric root's bracket (non-polynomial intensity)

    def __float__(self) -> float:
        if not self.exists or self.value is None or not self.value.is_number:
            raise ValueError(f"no numeric crossover in {self.unknown}: {self.reason}")
        return float(self.value)

    @property
    def ceiling(self) -> sympy.Expr | None:
        """The first integer at or beyond the crossover (for ``B``: the smallest compute-bound batch)."""
        return None if self.value is None else sympy.ceiling(self.value)

    def latex(self) -> str:
        rhs = r"\text{none}" if self.value is None else to_latex(self.value)
        return f"{to_latex(self.unknown)}^* = {rhs}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def _lower(x: sympy.Symbol, lower: Any) -> sympy.Expr:
    if lower is not None:
        return as_amount(lower, "lower", allow_zero=True)
    return sympy.Integer(0 if x is sym.S_c or not x.is_integer else 1)


def _fmt(v: sympy.Expr) -> str:
    return f"{v} (≈ {float(v):.6g})" if v.is_number and not v.is_Integer and v.is_finite else str(v)


def crossover(cost: Cost | sympy.Expr, hardware_or_balance: Any, unknown: sympy.Symbol | str = sym.B, *,
              dtype: str | None = None, lower: Any = None, **values: Any) -> Crossover:
    """Solve intensity = balance for ``unknown`` (``B`` by default), exactly.

    ``hardware_or_balance`` is a `Hardware`, a GPU name, or a balance such as
    ``pi/beta``; ``values`` fix other symbols (``S_c=4096``, ``b_kv=1``).
    ``lower`` is the smallest meaningful value of ``unknown`` (1; 0 for ``S_c``).

    With numbers only, the answer is the first sign change of ``I − balance``
    beyond ``lower`` (a root of a polynomial, exact); when there is none, the
    reason says why: the limit stays below the balance, or the step is already
    compute-bound at ``lower``. With symbols left, a closed form (linear, or a
    quadratic with one positive root) and the ``condition`` under which it is
    positive.

    >>> import symroof
    >>> from symroof.symbols import S_c, S_i
    >>> cost = symroof.step(symroof.models.get("llama-3-8b"), "roofline-notes")
    >>> c = crossover(cost, "A100-80GB", S_c, B=256, S_i=1)    # the cache that turns B=256 memory-bound
    >>> c.above, int(c.value)
    ('memory', 280)
    >>> crossover(cost, "A100-80GB", S_i, B=1, S_c=4096).ceiling   # draft length of a compute-bound step
    139
    """
    x = _symbol(unknown)
    table = _table(values)
    if x in table:
        raise ValueError(f"{x} is the unknown; do not also give it a value")
    bal = _balance_of(hardware_or_balance, dtype).subs(table)
    expr = _intensity(cost, table)
    lo = _lower(x, lower)
    if x not in expr.free_symbols:
        return Crossover(x, None, False, f"the intensity {expr} does not depend on {x}", expr, bal)
    try:
        p, q = _polys(expr, x)
    except ValueError:
        if expr.free_symbols - {x} or not bal.is_number:
            raise ValueError(f"no closed form for the crossover in {x}: the intensity is not a ratio of "
                             f"polynomials in {x}; give numbers for "
                             f"{sorted(map(str, (expr.free_symbols | bal.free_symbols) - {x}))}") from None
        return _bracketed(x, expr, bal, lo)
    limit = _limit(p, q)
    bp, bq = sympy.fraction(sympy.together(bal))
    # sign(g) = sign(I − balance), since q > 0 and bq > 0
    g = sympy.Poly(sympy.expand(p.as_expr() * bq - q.as_expr() * bp), x)
    if g.free_symbols - {x}:
        return _symbolic(x, g, limit, bal, sympy.cancel(p.eval(0) / q.eval(0)), lo)
    return _numeric(x, expr, g, limit, bal, lo)


def _numeric(x: sympy.Symbol, expr: sympy.Expr, g: sympy.Poly, limit: sympy.Expr, bal: sympy.Expr,
             lo: sympy.Expr) -> Crossover:
    at_lo = expr.subs(x, lo)
    start: Regime = "compute" if g.eval(lo) >= 0 else "memory"
    if g.is_zero:
        return Crossover(x, None, False, f"the intensity equals the balance {bal} for every {x}", limit, bal)
    roots = [r for r in sympy.real_roots(g) if r > lo]
    crossing = next((r for r in roots if roots.count(r) % 2 == 1), None)
    if crossing is None:
        if start == "memory":
            reason = (f"no crossover: memory-bound for every {x} ≥ {lo}, since the intensity tends to "
                      f"{_fmt(limit)} as {x} → ∞, not above the balance {_fmt(bal)}")
        else:
            reason = (f"no crossover: compute-bound already at {x} = {lo} (intensity {_fmt(at_lo)} ≥ "
                      f"balance {_fmt(bal)}) and for every larger {x}")
        return Crossover(x, None, False, reason, limit, bal)
    above: Regime = "memory" if start == "compute" else "compute"
    value = sympy.nsimplify(crossing) if crossing.is_Rational else crossing
    reason = f"{start}-bound for {x} < {_fmt(value)}, {above}-bound beyond (balance {_fmt(bal)})"
    return Crossover(x, value, True, reason, limit, bal, sympy.true, above)


_SCAN_TOP = 2**62          # the largest value of the unknown a bracketed search looks at
_EXACT_UP_TO = 2**12       # the largest value at which it evaluates the intensity exactly


def _bracketed(x: sympy.Symbol, expr: sympy.Expr, bal: sympy.Expr, lo: sympy.Expr) -> Crossover:
    """The crossover of an intensity that is not a ratio of polynomials in ``x`` (the experts a batch
    touches, a window): the first sign change of ``I − balance`` on ``lo, 2·lo, 4·lo, ...`` brackets it,
    bisection on the integers narrows the bracket to ``[n − 1, n]`` (``n`` the first value beyond it,
    for an integer unknown), and the root inside is found to 30 digits."""
    gap = expr - bal

    def f(v: sympy.Expr) -> sympy.Expr:
        # exact up to 2^12, so that a root on an integer (1 − 2^-B = 3/4 at B = 2) is seen as one; beyond,
        # numeric: an exact (1/2)^B at B = 2^40 would build a rational of 2^40 bits
        if abs(v) <= _EXACT_UP_TO:
            at = gap.subs(x, v)
            return sympy.sign(at if at.is_Rational else at.evalf(40))
        return sympy.sign(gap.evalf(40, subs={x: v}))

    start = max(lo, sympy.Integer(1)) if x.is_integer else lo
    limit = _general_limit(expr, x)
    first = f(start)
    if first == 0:
        return Crossover(x, start, True, f"intensity = balance {_fmt(bal)} at {x} = {start}", limit, bal,
                         sympy.true, "compute")
    at, previous = sympy.Integer(start), sympy.Integer(start)
    while f(at) == first:
        if at > _SCAN_TOP:
            regime = "memory" if first < 0 else "compute"
            reason = (f"no crossover: {regime}-bound for every {x} ≥ {start} up to {_SCAN_TOP} "
                      f"(the intensity tends to {_fmt(limit)} as {x} → ∞; balance {_fmt(bal)})")
            return Crossover(x, None, False, reason, limit, bal)
        previous, at = at, 2 * at if at > 0 else sympy.Integer(1)
    a, b = previous, at                       # f(a) == first != f(b)
    while b - a > 1 and x.is_integer:
        mid = (a + b) // 2
        a, b = (mid, b) if f(mid) == first else (a, mid)
    above: Regime = "compute" if first < 0 else "memory"
    below = "memory" if above == "compute" else "compute"
    if f(b) == 0:                 # an exact root at the bracket's end (1 − 2^-B = 3/4 at B = 2)
        return Crossover(x, b, True, f"{below}-bound for {x} < {b}, {above}-bound beyond (balance {_fmt(bal)})",
                         limit, bal, sympy.true, above)
    with mpmath.workdps(40):      # findroot works at mpmath's own precision, 15 digits unless raised
        root = sympy.Float(mpmath.findroot(lambda v: mpmath.mpf(str(gap.evalf(40, subs={x: sympy.Float(v, 40)}))),
                                           (mpmath.mpf(int(a)), mpmath.mpf(int(b))), solver="bisect", tol=1e-32),
                           30)
    reason = (f"{below}-bound for {x} < {_fmt(root)}, {above}-bound beyond (balance {_fmt(bal)}); a numeric "
              f"root, bracketed in [{a}, {b}]: the intensity is not a ratio of polynomials in {x}")
    return Crossover(x, root, True, reason, limit, bal, sympy.true, above, (a, b))


def _symbolic(x: sympy.Symbol, g: sympy.Poly, limit: sympy.Expr, bal: sympy.Expr, at0: sympy.Expr,
              lo: sympy.Expr) -> Crossover:
    """Closed form of the crossover when symbols remain; ``at0`` is the intensity at ``x = 0``."""
    c = g.all_coeffs()[::-1]          # c[k] multiplies x**k; sign(g) = sign(I − balance)
    below, beyond = sympy.Lt(at0, bal), sympy.Gt(limit, bal)
    above: Regime | None
    condition: sympy.Basic
    if g.degree() == 1:
        value = sympy.factor(-c[0] / c[1])
        if c[0].is_negative:          # I(0) < balance, proved: positive exactly when the limit exceeds it
            condition, above = beyond, "compute"
        elif c[0].is_positive:        # I(0) > balance, proved: positive exactly when the limit is below it
            condition, above = sympy.Lt(limit, bal), "memory"
        else:                         # a positive root is a sign change between x = 0 and x → ∞
            condition = sympy.Or(sympy.And(below, beyond), sympy.And(sympy.Not(below), sympy.Not(beyond)))
            above = "compute" if beyond is sympy.true else "memory" if beyond is sympy.false else None
        proof = f"{x}* > 0 exactly when {condition}"
    elif g.degree() == 2 and c[2].is_positive:
        # the larger root: I − balance > 0 beyond it; when I(0) < balance (c0 < 0) the product of the
        # roots c0/c2 is negative, so it is the only positive root
        value = (-c[1] + sympy.sqrt(c[1] ** 2 - 4 * c[2] * c[0])) / (2 * c[2])
        condition, above = (sympy.true if c[0].is_negative else below), "compute"
        proof = f"the only positive root of a quadratic in {x} when {below}"
    else:
        raise ValueError(f"no closed form for the crossover in {x}: intensity − balance has degree "
                         f"{g.degree()} in {x}; substitute numbers for {sorted(map(str, g.free_symbols - {x}))}")
    if condition is sympy.false:
        return Crossover(x, None, False, f"no crossover: {proof}, which is false", limit, bal, condition)
    reason = f"intensity = {bal} at {x} = {value}; {proof}"
    if lo > 0 and above is not None:
        other = "memory" if above == "compute" else "compute"
        reason += f" (if {x}* < {lo}, the step is {above}-bound already at {x} = {lo}; {other}-bound below {x}*)"
    return Crossover(x, value, True, reason, limit, bal, condition, above)


def crossover_batch(cost: Cost | sympy.Expr, hardware: Any, **values: Any) -> Crossover:
    """The batch size at which the step turns compute-bound: ``crossover(cost, hardware, B, ...)``.

    >>> import symroof
    >>> from symroof.symbols import pi, beta
    >>> arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    >>> c = crossover_batch(symroof.step(arch, "000"), pi / beta)
    >>> c.value
    1000000000*Z*pi/(H*N*(12*H*S_i*beta + 2*S_c*S_i*beta - S_c*pi - 4*S_i*pi))
    """
    return crossover(cost, hardware, sym.B, **values)
