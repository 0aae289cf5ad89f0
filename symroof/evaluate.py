"""Fast numeric evaluators: ``compile(expr | cost)`` returns an `Evaluator`.

Users sweep symroof's formulas over large grids (batch × context × model × GPU).
``sympy.lambdify`` of an unsimplified cost re-computes every term at every
point and ``subs`` is a million times slower, so `compile` does the work once:

1. **fold** the fixed arguments (``fixed={"S_c": 4096, "S_i": 1}`` or keywords)
   into the expression, exactly;
2. **cancel and factor** the rational function that is left and pick, among
   a few equivalent forms (expanded, factored, Horner, constant folded into a
   factor), the one with the fewest operations, divisions counted as four
   (e.g. Llama-3-8B decode intensity at S_c = 4096 is ``B/(c + d·B)``: one
   multiply, one add, one division per point). Forms divided through by a
   power of one symbol are kept too: over a broadcast grid a call evaluates the
   form with the least work per point (``ev.form_for(...)`` shows it), e.g.
   ``f(S_c)/(g(S_c) + c/B)`` over ``B[:, None] × S_c[None, :]``: one add and
   one division per point, the rest on the row or the column;
3. **share** common subexpressions (``sympy.cse``) in a small three-address
   program;
4. **evaluate** it in cache-sized slabs of the output with in-place ufuncs
   (numpy backend), split among threads, with numexpr (``backend="numexpr"``),
   or, for arrays of at least ``symroof._numba.MIN_POINTS`` points over one or two
   dimensions, in one parallel loop compiled by numba (``backend="numba"``, which
   ``"auto"`` picks when numba is installed; both in the optional extra ``fast``;
   see `symroof._numba`). Subexpressions that
   depend only on broadcast (smaller) inputs are computed once at their own
   shape before the loop, and the ufuncs read them in place through
   stride-0 views, so a ``B[:, None] × S_c[None, :]`` grid does per point
   only the work that needs both and never copies an expanded input.

``ev(..., out=buffer)`` writes into a float64 array of the result's shape
(numpy's ``out=``) and returns it: a sweep that reuses one buffer saves the
page faults of a fresh result, which cost about half of one numpy pass.

Arguments are named by their symbols' names; integer inputs are promoted to
float64 before any product (no int64 overflow in ``B·S²·H·N``); results are
float64. Every argument is checked: a count must be a positive integer
(``S_c`` may be zero: an empty cache), every value finite; a bad one raises a
`ValueError` naming it. ``ev.exact(...)`` (or ``compile(..., exact=True)``)
returns the exact value as a Python ``int`` or ``Fraction`` instead. Dask
arrays (and other arrays that implement numpy's ``__array_ufunc__``) go
through the same program lazily, chunk by chunk. Compiled evaluators are
cached: compiling the same expression with the same fixed values twice
returns the same object.

Examples
--------
>>> import numpy as np
>>> from symroof.symbols import B, H
>>> ev = compile(2 * B * H**2 / (2 * H**2 + 4 * B * H), H=4096)  # = 4096·B/(4096 + 2·B)
>>> ev.names
('B',)
>>> ev.form
2048*B/(B + 2048)
>>> ev(B=np.array([2048, 6144]))  # 2048·2048/4096, 2048·6144/8192
array([1024., 1536.])
>>> buffer = np.empty(2)
>>> ev(B=np.array([2048, 6144]), out=buffer) is buffer
True
>>> ev.exact(B=1)
Fraction(2048, 2049)
>>> compile(2 * B * H**2 / (2 * H**2 + 4 * B * H), H=4096) is ev
True
>>> ev(B=0)
Traceback (most recent call last):
...
ValueError: B=0 must be a positive integer
"""

from __future__ import annotations

import builtins
import functools
import importlib
import itertools
import keyword
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import sympy

from symroof import _numba
from symroof import symbols as _symbols
from symroof.cost import Cost
from symroof.cost.base import _under
from symroof.cost.moe import Missed

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["BACKENDS", "Evaluator", "MultiEvaluator", "compile"]

BACKENDS = ("auto", "numpy", "numexpr", "numba")
# Elements per block (slab) of the numpy backend: 2^17 float64 = 1 MiB per buffer, which stays
# in the shared L3. Each slab costs a few Python calls made under the GIL, so with two threads
# small slabs serialise on the GIL, and large ones fall out of cache: on this project's 2-core
# machines 2^17 measured best (Llama-3-8B decode intensity over 10^7 batch sizes, 2 threads:
# 1.00x one numpy pass, against 1.11x at 2^15, 1.07x at 2^16 and 1.17x at 2^18; the B x S_c
# grid 0.72x, 0.86x at 2^15); `python benchmarks/evaluate.py --block N` measures another size.
BLOCK = 1 << 17
# Below this many points per thread, one thread: waking another costs more than it saves.
_MIN_PER_THREAD = 1 << 18
# Symbols that may be zero although declared positive: an empty KV cache (prefill is a
# step at S_c = 0, see symroof.phases).
ZERO_ALLOWED = frozenset({_symbols.S_c})
# Relative cost of one operation per point, to choose among equivalent forms: an fp64
# division costs several multiplies (measured: 1/x alone takes 3/4 of a B*2.0 pass).
_WEIGHTS = {"add": 1, "sub": 1, "mul": 1, "neg": 1, "max": 1, "min": 1, "div": 4, "pow": 10}
_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide",
           "pow": "power", "max": "maximum", "min": "minimum", "neg": "negative"}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}

Operand = int | float  # an int is a node (inputs first, then ops); a float is a constant


# ---- argument rules -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Rule:
    """What one argument may be: from its symbol's assumptions."""

    name: str
    integer: bool
    lower: Literal["positive", "nonnegative", "none"]

    @classmethod
    def of(cls, symbol: sympy.Symbol) -> _Rule:
        if symbol.is_positive:
            lower: Literal["positive", "nonnegative", "none"] = (
                "nonnegative" if symbol in ZERO_ALLOWED else "positive")
        elif symbol.is_nonnegative:
            lower = "nonnegative"
        else:
            lower = "none"
        return cls(symbol.name, bool(symbol.is_integer), lower)

    def describe(self) -> str:
        sign = {"positive": "a positive ", "nonnegative": "a non-negative ", "none": "a finite "}[self.lower]
        return sign + ("integer" if self.integer else "number")

    def ok(self, value: Fraction | int | float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.lower == "positive" and not value > 0:
            return False
        if self.lower == "nonnegative" and not value >= 0:
            return False
        return not (self.integer and value != math.floor(value))

    def bad(self, value: object) -> ValueError:
        return ValueError(f"{self.name}={_show(value)} must be {self.describe()}")

    # arrays: fast reductions first; a full mask only to name the first bad element
    def array_ok(self, x: np.ndarray, floating: bool, tmp: np.ndarray | None = None) -> bool:
        if x.size == 0:
            return True
        # ``floating``: the values came from a float array (a block of an integer array cast to
        # float64 holds no NaN or inf, and fmin, which ignores NaN, is twice as fast as minimum)
        if floating:
            lo = np.minimum.reduce(x, axis=None)  # NaN propagates; -inf shows here
            if not (np.isfinite(lo) and np.fmax.reduce(x, axis=None) < np.inf):
                return False
        elif self.lower != "none":
            lo = np.fmin.reduce(x, axis=None)
        else:
            return True
        if (self.lower == "positive" and not lo > 0) or (self.lower == "nonnegative" and not lo >= 0):
            return False
        if self.integer and floating:
            if tmp is None:
                return bool(np.array_equal(np.floor(x), x))
            np.floor(x, out=tmp)
            np.subtract(x, tmp, out=tmp)
            return not np.maximum.reduce(tmp, axis=None) > 0
        return True

    def block_test(self, floating: bool) -> Callable[[np.ndarray, np.ndarray], bool]:
        """`array_ok` for float64 blocks of one input, with its branches decided once per call.

        A block of an integer array cast to float64 needs one reduction (its minimum, and
        only if there is a lower bound); a float block needs its minimum and maximum (NaN
        and ±inf show there) and, for a count, no fractional part.
        """
        if floating:
            return lambda x, tmp: self.array_ok(x, True, tmp)
        if self.lower == "none":
            return lambda x, tmp: True
        low = np.minimum.reduce
        if self.lower == "positive":
            return lambda x, tmp: low(x, axis=None) > 0
        return lambda x, tmp: low(x, axis=None) >= 0

    def array_bad(self, x: np.ndarray) -> ValueError:
        x = np.asarray(x)
        xf = x.astype(np.float64)
        good = np.isfinite(xf)
        if self.lower == "positive":
            good &= xf > 0
        elif self.lower == "nonnegative":
            good &= xf >= 0
        if self.integer:
            good &= np.floor(np.where(good, xf, 0)) == np.where(good, xf, 0)
        where = np.argwhere(~good)
        if len(where) == 0:  # the block looked bad but the array does not: report the block
            return ValueError(f"{self.name} must be {self.describe()}")
        idx = tuple(int(i) for i in where[0])
        return ValueError(f"{self.name}[{', '.join(map(str, idx))}]={x[idx].item()!r} must be {self.describe()}")


def _raising() -> np.errstate:
    """Division by zero and float64 overflow raise (and become a ValueError naming the point)."""
    return np.errstate(divide="raise", over="raise", invalid="raise", under="ignore")


def _show(value: object) -> str:
    """A value for an error message, shortened: ``10**400`` does not print 401 digits."""
    text = repr(value)
    if len(text) <= 40:
        return text
    if isinstance(value, int):
        return f"{str(value)[0]}.{str(value)[1:4]}e+{len(str(value)) - 1} (an int of {len(str(value))} digits)"
    return text[:37] + "..."


def _real_dtype(name: str, dtype: np.dtype) -> bool:
    """True for floating dtypes, False for integers; TypeError for anything else."""
    if dtype.kind in "iu":
        return False
    if dtype.kind == "f":
        return True
    what = {"b": "a boolean", "c": "a complex", "O": "an object", "U": "a string", "S": "a bytes"}
    raise TypeError(f"{name}: {what.get(dtype.kind, 'a ' + str(dtype))} array is not allowed; "
                    "pass integers or floats")


def _scalar_float(rule: _Rule, value: object) -> float:
    """A validated Python scalar (or 0-d array) as a float."""
    exact = _scalar_exact(rule, value, "a number or an array")
    try:
        return float(exact)
    except OverflowError:
        raise ValueError(f"{rule.name}={_show(value)} is too large for float64; use exact mode") from None


def _scalar_exact(rule: _Rule, value: object, expected: str = "a number") -> int | Fraction | float:
    """A validated scalar, kept exact (int or Fraction); a float stays a float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{rule.name}={value!r}: a bool is not a number")
    out: int | Fraction | float
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Rational):
        out = Fraction(int(value.numerator), int(value.denominator))
    elif isinstance(value, sympy.Basic):
        if not (isinstance(value, sympy.Number) and value.is_extended_real):
            raise TypeError(f"{rule.name}={value!r} must be a number, not a symbolic expression")
        if isinstance(value, sympy.Rational):
            out = Fraction(int(value.p), int(value.q)) if value.q != 1 else int(value.p)
        else:
            out = float(value)
    elif isinstance(value, numbers.Real):
        out = float(value)
    else:
        raise TypeError(f"{rule.name}={_show(value)}: expected {expected}, not {type(value).__name__}")
    if isinstance(out, Fraction) and out.denominator == 1:
        out = int(out)
    if not rule.ok(out):
        raise rule.bad(value)
    return out


# ---- the program: three-address code over float64 ------------------------------------------
@dataclass(frozen=True)
class _Program:
    """Straight-line code: node ``i < n_inputs`` is input ``i``; then one node per op."""

    n_inputs: int
    ops: tuple[tuple[str, tuple[Operand, ...]], ...]
    root: Operand
    deps: tuple[frozenset[int], ...]  # per node, the inputs it depends on
    outputs: tuple[Operand, ...] = ()  # several results in one pass (then ``root`` is the first)

    @property
    def roots(self) -> tuple[Operand, ...]:
        return self.outputs or (self.root,)

    @property
    def cost(self) -> int:
        return sum(_WEIGHTS[kind] for kind, _ in self.ops)


class _Builder:
    def __init__(self, inputs: tuple[sympy.Symbol, ...], scalars: frozenset[sympy.Symbol] = frozenset()):
        self.scalars = scalars  # inputs that are always scalars (call-time coefficients): no reach
        self.nodes: dict[sympy.Expr, Operand] = {s: i for i, s in enumerate(inputs)}
        self.n_inputs = len(inputs)
        self.ops: list[tuple[str, tuple[Operand, ...]]] = []
        self.memo: dict[tuple[str, tuple[tuple[bool, Operand], ...]], int] = {}
        self.deps: list[frozenset[int]] = [frozenset({i}) for i in range(len(inputs))]

    def op(self, kind: str, *args: Operand) -> Operand:
        # the key tells constants from nodes: 5.0 == 5 and hash(5.0) == hash(5) in Python
        key = (kind, tuple((isinstance(a, float), a) for a in args))
        if key not in self.memo:
            self.memo[key] = self.n_inputs + len(self.ops)
            self.ops.append((kind, args))
            self.deps.append(frozenset().union(*(self.deps[a] for a in args if isinstance(a, int))))
        return self.memo[key]

    def program(self, root: Operand, outputs: tuple[Operand, ...] = ()) -> _Program:
        return _Program(self.n_inputs, tuple(self.ops), root, tuple(self.deps), outputs)

    def emit(self, e: sympy.Expr) -> Operand:
        if e in self.nodes:
            return self.nodes[e]
        out = self._emit(e)
        self.nodes[e] = out
        return out

    def _emit(self, e: sympy.Expr) -> Operand:
        if e.is_Number:
            return _constant(e)
        if isinstance(e, sympy.Add):
            positive: list[sympy.Expr] = []
            negative: list[sympy.Expr] = []
            # terms over fewer inputs first, alike terms together: their partial sums can be
            # computed once at a broadcast input's own shape (see Evaluator._hoist)
            for term in sorted(e.args, key=self._reach):
                coeff, _ = term.as_coeff_Mul()
                (negative if coeff.is_negative else positive).append(-term if coeff.is_negative else term)
            acc: Operand | None = None
            for term in positive:
                x = self.emit(term)
                acc = x if acc is None else self.op("add", acc, x)
            for term in negative:
                x = self.emit(term)
                acc = self.op("neg", x) if acc is None else self.op("sub", acc, x)
            assert acc is not None
            return acc
        if isinstance(e, sympy.Mul):
            coeff, factors = e.as_coeff_mul()
            if coeff.is_negative:
                return self.op("neg", self.emit(-e))
            num: list[sympy.Expr] = []
            den: list[sympy.Expr] = []
            for f in factors:
                base, exp = f.as_base_exp()
                if exp.is_Number and exp.is_negative:
                    den.append(base ** -exp)
                else:
                    num.append(f)
            top = self._product([coeff] if coeff != 1 else [], num)
            if not den:
                assert top is not None
                return top
            bottom = self._product([], den)
            assert bottom is not None
            return self.op("div", 1.0 if top is None else top, bottom)
        if isinstance(e, sympy.Pow):
            base, exp = e.args
            if exp.is_Integer and exp > 0:
                return self._power(self.emit(base), int(exp))
            if exp.is_Number and exp.is_negative:
                return self.op("div", 1.0, self.emit(base ** -exp))
            if exp.is_Number:
                return self.op("pow", self.emit(base), _constant(exp))
            return self.op("pow", self.emit(base), self.emit(exp))
        if isinstance(e, Missed):              # (1 − k/E)^t of the experts a pass touches
            return self.op("pow", self.emit(e.args[0]), self.emit(e.args[1]))
        if isinstance(e, (sympy.Max, sympy.Min)):
            kind = "max" if isinstance(e, sympy.Max) else "min"
            args = [self.emit(a) for a in e.args]
            acc = args[0]
            for x in args[1:]:
                acc = self.op(kind, acc, x)
            return acc
        raise TypeError(f"cannot compile {type(e).__name__} ({e}): symroof evaluates + - * / ** Max Min")

    def _reach(self, e: sympy.Expr) -> tuple[int, tuple[str, ...]]:
        """Sort key: how many inputs ``e`` depends on, then which."""
        names = sorted(s.name for s in e.free_symbols if s not in self.scalars)
        return len(names), tuple(names)

    def _product(self, constants: list[sympy.Expr], factors: list[sympy.Expr]) -> Operand | None:
        # the constants scale the factor over the fewest inputs, before the others join it
        acc: Operand | None = None
        for f in sorted(factors, key=self._reach):
            x = self.emit(f)
            acc = x if acc is None else self.op("mul", acc, x)
            if constants and acc is x:
                for c in constants:
                    acc = self.op("mul", acc, _constant(c))
                constants = []
        for c in constants:
            x = _constant(c)
            acc = x if acc is None else self.op("mul", acc, x)
        return acc

    def _power(self, x: Operand, n: int) -> Operand:
        if n == 1:
            return x
        if n > 8:
            return self.op("pow", x, float(n))
        half = self._power(x, n // 2)
        sq = self.op("mul", half, half)
        return self.op("mul", sq, x) if n % 2 else sq


def _constant(c: sympy.Expr) -> float:
    try:
        value = float(c)
    except (TypeError, OverflowError):
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"constant {c} does not fit in float64")
    return value


def _build(form: sympy.Expr, inputs: tuple[sympy.Symbol, ...], use_cse: bool,
           scalars: frozenset[sympy.Symbol] = frozenset()) -> _Program:
    builder = _Builder(inputs, scalars)
    if use_cse:
        replacements, (reduced,) = sympy.cse(form, symbols=sympy.numbered_symbols("_cse"), order="none")
        for name, sub in replacements:
            builder.nodes[name] = builder.emit(sub)
        return builder.program(builder.emit(reduced))
    return builder.program(builder.emit(form))


# ---- choosing the form ------------------------------------------------------------------------
def _has_negative_constant(e: sympy.Expr) -> bool:
    """A subtraction (negative coefficient) somewhere: it could cancel digits; exponents don't count."""
    if isinstance(e, sympy.Pow):
        return _has_negative_constant(e.base)
    if e.is_Number:
        return bool(e.is_negative)
    return any(_has_negative_constant(a) for a in e.args)


def _fold(num: list[sympy.Expr], den: list[sympy.Expr], k: sympy.Expr) -> sympy.Expr:
    """``k·∏num/∏den`` with the constant ``k`` folded into one sum factor (saves a multiply)."""
    num, den = list(num), list(den)
    if k != 1:
        for i, f in enumerate(den):
            if isinstance(f, sympy.Add):
                den[i] = sympy.expand(f / k)
                break
        else:
            for i, f in enumerate(num):
                if isinstance(f, sympy.Add):
                    num[i] = sympy.expand(f * k)
                    break
            else:
                num.append(k)
    return sympy.Mul(*num) / sympy.Mul(*den)


def _horner(f: sympy.Expr, order: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    """``f`` in Horner form in the symbols of ``order``, the first outermost; other symbols
    (call-time coefficients) are coefficients. As ``sympy.horner``, over the monomials directly:
    a tenth of its time, which dominated compile()."""
    if not isinstance(f, sympy.Add):
        return f
    gens = tuple(g for g in order if g in f.free_symbols)
    if not gens:
        return f
    return _horner_terms(sympy.Poly(f, *gens).as_dict(), gens)


def _horner_terms(terms: Mapping[tuple[int, ...], sympy.Expr], gens: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    """``Σ c·gens^m`` in Horner form: in ``gens[0]`` with coefficients in Horner form in the rest.

    >>> from symroof.symbols import B, S_c
    >>> _horner_terms({(2, 0): 3, (1, 1): 1, (0, 0): 5}, (B, S_c))
    B*(3*B + S_c) + 5
    """
    if not gens:
        return sympy.Add(*terms.values())
    x, rest = gens[0], gens[1:]
    by_power: dict[int, dict[tuple[int, ...], sympy.Expr]] = {}
    for monom, c in terms.items():
        by_power.setdefault(monom[0], {})[monom[1:]] = c
    powers = sorted(by_power, reverse=True)
    acc: sympy.Expr = _horner_terms(by_power[powers[0]], rest)
    for prev, e in itertools.pairwise(powers):
        acc = acc * x ** (prev - e) + _horner_terms(by_power[e], rest)
    return acc * x ** powers[-1]


def _lowest_power(f: sympy.Expr, x: sympy.Symbol) -> int:
    """The largest ``e`` such that ``x**e`` divides the polynomial ``f``.

    >>> from symroof.symbols import B, S_c
    >>> _lowest_power(3 * B**2 * S_c + B**3, B), _lowest_power(B * S_c + 1, B)
    (2, 0)
    """
    return min(m[0] for m in sympy.Poly(f, x).monoms())


def _cancelled(expr: sympy.Expr, free: tuple[sympy.Symbol, ...]) -> tuple[sympy.Poly, sympy.Poly]:
    """``expr`` as ``p/q`` in lowest terms, two polynomials in ``free`` (as ``sympy.cancel``).

    A quotient of two polynomials (a Cost's intensity) goes straight to `Poly`, about ten
    times faster than ``cancel(together(expr))``, which is the fallback."""
    n, d = sympy.fraction(expr)
    try:
        top, bottom = sympy.Poly(n, *free), sympy.Poly(d, *free)
    except sympy.PolynomialError:
        n, d = sympy.fraction(sympy.cancel(sympy.together(expr)))
        top, bottom = sympy.Poly(n, *free), sympy.Poly(d, *free)
    p, q = top.cancel(bottom, include=True)
    return p, q


def _shifted(poly: sympy.Poly, k: int, e: int) -> sympy.Expr:
    """``poly / gens[k]**e`` as a sum of terms (negative powers where ``gens[k]**e`` does not divide)."""
    gens = poly.gens
    return sympy.Add(*(c * sympy.Mul(*(g ** (m[i] - (e if i == k else 0)) for i, g in enumerate(gens)))
                       for m, c in poly.terms()))


def _candidates(expr: sympy.Expr) -> list[sympy.Expr]:
    """Equal forms of ``expr``: as given, cancelled, factored, each factor in Horner form."""
    out = [expr]
    free = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    if not free or expr.has(sympy.Float) or not expr.is_rational_function(*free):
        return out
    P, Q = _cancelled(expr, free)
    p, q = P.as_expr(), Q.as_expr()
    out.append(_fold([p], [q], sympy.Integer(1)))
    cp, fp = sympy.factor_list(p, *free)
    cq, fq = sympy.factor_list(q, *free)
    k = sympy.Rational(cp) / sympy.Rational(cq)
    num = [f**e for f, e in fp]
    den = [f**e for f, e in fq]
    out.append(_fold(num, den, k))
    # fold into the expanded sum first, then Horner it (the folded constants stay exact)
    fn, fd = sympy.fraction(_fold(num, den, k))
    orders = list(itertools.permutations(free)) if len(free) <= 3 else [free]
    for order in orders:
        hn = [_horner(f, order) ** e for f, e in fp]
        hd = [_horner(f, order) ** e for f, e in fq]
        out.append(sympy.Mul(*[_horner(f, order) for f in sympy.Mul.make_args(fn)])
                   / sympy.Mul(*[_horner(f, order) for f in sympy.Mul.make_args(fd)]))
        out.append(k * sympy.Mul(*hn) / sympy.Mul(*hd))
    # numerator and denominator divided by a power of one symbol that divides one of them:
    # ``B·f(S_c)/(B·g(S_c) + c)`` becomes ``f(S_c)/(g(S_c) + c/B)``, costlier per point when every
    # input is a full array but cheaper over a B × S_c grid, where f, g and c/B are hoisted
    if len(free) > 1:
        for i in range(len(free)):
            for poly in (P, Q):
                e = min(m[i] for m in poly.monoms())
                if e > 0:
                    out.append(_shifted(P, i, e) / _shifted(Q, i, e))
    return list(dict.fromkeys(out))  # each form once


def _choose(expr: sympy.Expr, inputs: tuple[sympy.Symbol, ...]) -> tuple[tuple[sympy.Expr, _Program], ...]:
    """Equal forms and their programs, the cheapest first (fewest weighted operations when every
    input is a full array; no subtraction if avoidable), then the other safe ones, each program
    once: a call over broadcast inputs picks among them by the work left per point
    (`_per_point`)."""
    ranked: list[tuple[tuple[int, int, int, int], sympy.Expr, _Program]] = []
    negative_in_input = _has_negative_constant(expr)
    for i, form in enumerate(_candidates(expr)):
        for use_cse in (False, True):
            program = _build(form, inputs, use_cse)
            risky = int(_has_negative_constant(form) and not negative_in_input)
            ranked.append(((risky, program.cost, i, use_cse), form, program))
    ranked.sort(key=lambda r: r[0])
    risky = ranked[0][0][0]
    chosen: dict[_Program, sympy.Expr] = {}
    for key, form, program in ranked:
        if key[0] == risky and program not in chosen:
            chosen[program] = form
    return tuple((form, program) for program, form in chosen.items())


def _per_point(program: _Program, shapes: Mapping[int, tuple[int, ...]], size: int) -> float:
    """Weighted operations per output point over inputs of these shapes (a missing input is a
    scalar): an op over broadcast inputs only runs at its own, smaller shape."""
    total = 0.0
    for n in _needed(program, frozenset()):
        kind, _ = program.ops[n - program.n_inputs]
        shape = np.broadcast_shapes(*(shapes.get(i, ()) for i in program.deps[n]))
        total += _WEIGHTS[kind] * math.prod(shape) / size
    return total


@functools.lru_cache(maxsize=256)
def _least_work(programs: tuple[_Program, ...], shapes: tuple[tuple[int, tuple[int, ...]], ...],
                size: int) -> _Program:
    """The program with the least work per point over inputs of these shapes (the first on ties)."""
    costs = [_per_point(program, dict(shapes), size) for program in programs]
    return programs[costs.index(min(costs))]


# ---- code generation --------------------------------------------------------------------------
def _needed(program: _Program, leaves: frozenset[int]) -> list[int]:
    """The op nodes to compute, in order, given the values of ``leaves``."""
    need: set[int] = set()
    stack = [r for r in program.roots if isinstance(r, int)]
    while stack:
        n = stack.pop()
        if n in need or n in leaves or n < program.n_inputs:
            continue
        need.add(n)
        stack.extend(a for a in program.ops[n - program.n_inputs][1] if isinstance(a, int))
    return sorted(need)


def _functional_source(program: _Program) -> str:
    """Python with operators: works on floats, numpy arrays and duck arrays such as dask."""
    args = ", ".join(f"x{i}" for i in range(program.n_inputs))
    lines = [f"def _functional({args}):"]

    def ref(a: Operand) -> str:
        if isinstance(a, float):
            return repr(a)
        return f"x{a}" if a < program.n_inputs else f"t{a}"

    for n in _needed(program, frozenset()):
        kind, ops = program.ops[n - program.n_inputs]
        if kind in _INFIX:
            lines.append(f"    t{n} = {ref(ops[0])} {_INFIX[kind]} {ref(ops[1])}")
        elif kind == "neg":
            lines.append(f"    t{n} = -{ref(ops[0])}")
        else:
            lines.append(f"    t{n} = _np.{_UFUNCS[kind]}({ref(ops[0])}, {ref(ops[1])})")
    if program.outputs:
        lines.append(f"    return ({''.join(ref(r) + ', ' for r in program.outputs)})")
    else:
        lines.append(f"    return {ref(program.root)}")
    return "\n".join(lines) + "\n"


def _blocked_source(program: _Program, iterated: tuple[int, ...], scalar: tuple[int, ...]) -> tuple[str, int]:
    """In-place ufunc calls on one block: array leaves in ``l*``, scalar leaves in ``s*``,
    the result in ``out``, temporaries in ``b*``; called as ``kernel(*block, *temps, *scalars)``.

    A temporary's buffer is reused as soon as its last reader has run (the reader may
    write in place over it); the root writes straight into ``out``."""
    leaves = iterated + scalar
    needed = _needed(program, frozenset(leaves))
    last_use: dict[int, int] = {}
    for n in needed:
        for a in program.ops[n - program.n_inputs][1]:
            if isinstance(a, int):
                last_use[a] = n
    names: dict[int, str] = {leaf: f"l{j}" for j, leaf in enumerate(iterated)}
    names.update({leaf: f"s{j}" for j, leaf in enumerate(scalar)})
    outs = [f"out{j}" for j in range(len(program.outputs))] if program.outputs else ["out"]
    # each output's buffer belongs to the first root that is this node (a node may be two outputs)
    target_of: dict[int, str] = {}
    for r, name in zip(program.roots, outs, strict=True):
        if isinstance(r, int) and r not in leaves:
            target_of.setdefault(r, name)
    free: list[str] = []
    count = 0
    body = []
    for n in needed:
        kind, ops = program.ops[n - program.n_inputs]
        for a in dict.fromkeys(a for a in ops if isinstance(a, int) and a not in leaves):
            if last_use[a] == n and a not in target_of:  # an output's buffer is never reused
                free.append(names[a])
        if n in target_of:
            target = target_of[n]
        elif free:
            target = free.pop()
        else:
            target = f"b{count}"
            count += 1
        names[n] = target
        refs = ", ".join(repr(a) if isinstance(a, float) else names[a] for a in ops)
        body.append(f"    _np.{_UFUNCS[kind]}({refs}, out={target})")
    for r, name in zip(program.roots, outs, strict=True):
        # a constant, a leaf, or a node that is an earlier output too
        if isinstance(r, float) or target_of.get(r) != name:
            value = repr(r) if isinstance(r, float) else names[r]
            body.append(f"    _np.copyto({name}, {value})")
    params = ([f"l{j}" for j in range(len(iterated))] + outs + [f"b{i}" for i in range(count)]
              + [f"s{j}" for j in range(len(scalar))])
    return f"def _block({', '.join(params)}):\n" + "\n".join(body) + "\n", count


def _numexpr_source(program: _Program, leaves: dict[int, str], floating: frozenset[int],
                    root: Operand | None = None) -> str:
    """One numexpr expression (numexpr has no statements: shared nodes are written out again).

    Integer inputs are wrapped in ``(1.0*x)`` where no float meets them first, so that
    numexpr never multiplies two int64 columns."""
    is_float: dict[int, bool] = {}

    def isf(a: Operand) -> bool:
        if isinstance(a, float):
            return True
        if a in leaves:
            return a in floating
        if a not in is_float:
            kind, ops = program.ops[a - program.n_inputs]
            is_float[a] = kind in ("div", "pow") or any(isf(x) for x in ops)
        return is_float[a]

    def text(a: Operand, other_float: bool) -> str:
        if isinstance(a, float):
            return repr(a)
        if a in leaves:
            return leaves[a] if (a in floating or other_float) else f"(1.0*{leaves[a]})"
        kind, ops = program.ops[a - program.n_inputs]
        if kind == "pow":  # numexpr turns x**11.0 into integer multiplies for an integer x
            return f"({text(ops[0], False)} ** {text(ops[1], False)})"
        if kind == "neg":
            return f"(-{text(ops[0], False)})"
        if kind in ("max", "min"):
            x, y = text(ops[0], False), text(ops[1], False)
            return f"where({x} {'>' if kind == 'max' else '<'} {y}, {x}, {y})"
        return f"({text(ops[0], isf(ops[1]))} {_INFIX[kind]} {text(ops[1], isf(ops[0]))})"

    return text(program.root if root is None else root, False)


def _exec(source: str, name: str) -> Callable[..., Any]:
    scope: dict[str, Any] = {"_np": np, "_Fraction": Fraction}
    exec(builtins.compile(source, f"<symroof.evaluate {name}>", "exec"), scope)
    return scope[name]


def _numexpr() -> ModuleType | None:
    try:
        return importlib.import_module("numexpr")
    except ImportError:
        return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Worker threads for the numpy backend's blocks (ufuncs release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor  # here: 3-7 ms of import symroof otherwise

    return ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="symroof-evaluate")


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not allowed; choose one of {', '.join(map(repr, BACKENDS))}")
    if backend == "numexpr" and _numexpr() is None:
        raise ImportError("backend='numexpr' needs numexpr: pip install 'symroof[fast]'")
    if backend == "numba" and not _numba.available():
        raise ImportError("backend='numba' needs numba: pip install 'symroof[fast]'")
    if backend == "auto":  # measured fastest in that order (benchmarks/evaluate.py); see compile()
        return "numba" if _numba.available() else "numpy"
    return backend


# ---- call-time scalars: a kernel specialised to which arguments are arrays ------------------------
def _exact_number(value: Any) -> int | Fraction:
    """A scalar argument (already validated) as an exact number: a float as the decimal it
    prints as (``0.1`` is 1/10), as ``compile(..., fixed=)`` reads it."""
    if type(value) is int:
        return value
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    exact = Fraction(repr(float(value)))
    return int(exact) if exact.denominator == 1 else exact


def _ratio(a: int | Fraction, d: int | Fraction) -> float:
    """``a/d`` rounded once to float64 (Python's int true division rounds correctly)."""
    if type(a) is int and type(d) is int:
        return a / d
    return float(Fraction(a) / d)


@functools.lru_cache(maxsize=256)
def _template(expr: sympy.Expr, inputs: tuple[sympy.Symbol, ...]
              ) -> tuple[dict[tuple[int, ...], int], dict[tuple[int, ...], int]] | None:
    """``expr`` as ``p/q``, two polynomials in every input with integer coefficients (the
    denominators cleared together), as ``{exponents: coefficient}``; None if not rational."""
    if not inputs or expr.has(sympy.Float) or not expr.is_rational_function(*inputs):
        return None
    terms = [f.as_dict() for f in _cancelled(expr, inputs)]
    scale = math.lcm(*(int(sympy.Rational(c).q) for t in terms for c in t.values()))
    out = tuple({m: int(sympy.Rational(c) * scale) for m, c in t.items()} for t in terms)
    return out[0], out[1]


def _polynomial_source(poly: Mapping[tuple[int, ...], int]) -> str:
    """An integer polynomial in ``s0, s1, ...`` as Python (exact on ints and Fractions)."""
    terms = []
    for monom, c in sorted(poly.items(), reverse=True):
        factors = [repr(c)] if c != 1 or not any(monom) else []
        factors += [f"s{k}" if e == 1 else f"s{k}**{e}" for k, e in enumerate(monom) if e]
        terms.append("*".join(factors))
    return " + ".join(terms) or "0"


@dataclass(frozen=True)
class _Special:
    """One call signature's kernel: the expression as ``Σ c_m·x^m / Σ d_m·x^m`` over the array
    arguments ``x``, each coefficient a polynomial of the scalar arguments, all divided by one of
    them (``norm``). A call computes the coefficients exactly from its scalars (Python ints or
    Fractions), divides, rounds each once to float64 and runs ``evaluator``, whose inputs are the
    arrays and then those coefficients (``others``: the coefficient behind each)."""

    scalar_idx: tuple[int, ...]
    coefficients: Callable[..., tuple[Any, ...]]
    norm: int
    others: tuple[int, ...]
    evaluator: Evaluator

    def exact_constants(self, values: list[Any]) -> list[Fraction] | None:
        c = self.coefficients(*[_exact_number(v) for v in values])
        d = c[self.norm]
        if d == 0:
            return None
        return [Fraction(c[k]) / d for k in self.others]

    def constants(self, values: list[Any]) -> dict[int, float] | None:
        """Input index -> coefficient, or None (a zero divisor, a negative coefficient, which could
        cancel digits, or one too large for float64): the general form takes over."""
        try:
            c = self.coefficients(*[_exact_number(v) for v in values])
            d = c[self.norm]
            if d == 0:
                return None
            first = len(self.evaluator._inputs) - len(self.others)
            out = {first + j: _ratio(c[k], d) for j, k in enumerate(self.others)}
        except (OverflowError, ValueError):
            return None
        if any(v < 0 for v in out.values()):
            return None
        return out

    @classmethod
    def build(cls, ev: Evaluator, array_idx: tuple[int, ...]) -> _Special | None:
        template = _template(ev.expr, ev._inputs)
        if template is None or not array_idx:
            return None
        scalar_idx = tuple(i for i in range(len(ev._inputs)) if i not in array_idx)
        xs = tuple(ev._inputs[i] for i in array_idx)
        sides: list[dict[tuple[int, ...], dict[tuple[int, ...], int]]] = []
        for terms in template:
            side: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
            for monom, c in terms.items():
                inner = side.setdefault(tuple(monom[i] for i in array_idx), {})
                sm = tuple(monom[i] for i in scalar_idx)
                inner[sm] = inner.get(sm, 0) + c
            sides.append({m: {k: v for k, v in poly.items() if v} for m, poly in side.items()})
        # a power of an array argument common to both sides cancels (cancel() left it only if the
        # scalar part of the coefficients made it look shared)
        low = [min(m[k] for side in sides for m in side) for k in range(len(xs))]
        coeffs = [(top, tuple(e - lo for e, lo in zip(m, low, strict=True)), poly)
                  for top, side in zip((True, False), sides, strict=True) for m, poly in side.items() if poly]
        source = (f"def _coefficients({', '.join(f's{k}' for k in range(len(scalar_idx)))}):\n"
                  f"    return ({''.join(_polynomial_source(poly) + ', ' for _, _, poly in coeffs)})\n")
        coefficients = _exec(source, "_coefficients")
        best: tuple[float, int, list[tuple[sympy.Expr, _Program]], tuple[sympy.Symbol, ...],
                    tuple[int, ...]] | None = None
        for norm in range(len(coeffs)):
            others = tuple(k for k in range(len(coeffs)) if k != norm)
            marks = tuple(sympy.Symbol(f"_c{j}", positive=True) for j in range(len(others)))
            forms, cost = _special_forms(xs, coeffs, norm, others, marks)
            if best is None or cost < best[0]:
                best = (cost, norm, forms, marks, others)
        assert best is not None
        _, norm, forms, marks, others = best
        rules = tuple(ev._rules[i] for i in array_idx) + tuple(_Rule(m.name, False, "none") for m in marks)
        sub = Evaluator(
            expr=forms[0][0], names=tuple(s.name for s in xs + marks), fixed=MappingProxyType({}),
            backend=ev.backend, mode="float", check=ev.check, threads=ev.threads,
            _inputs=xs + marks, _rules=rules, _given_forms=tuple(forms))
        return cls(scalar_idx, coefficients, norm, others, sub)


def _special_forms(xs: tuple[sympy.Symbol, ...], coeffs: list[tuple[bool, tuple[int, ...], Any]], norm: int,
                   others: tuple[int, ...], marks: tuple[sympy.Symbol, ...]
                   ) -> tuple[list[tuple[sympy.Expr, _Program]], float]:
    """Equal forms over the arrays ``xs`` with coefficients ``marks`` (coefficient ``norm`` is 1),
    their programs ranked by work per point over full arrays (the coefficients are scalars)."""
    mark = dict(zip(others, marks, strict=True))
    sides: list[list[sympy.Expr]] = [[], []]
    for k, (top, monom, _) in enumerate(coeffs):
        term = sympy.Mul(*(x**e for x, e in zip(xs, monom, strict=True)))
        sides[0 if top else 1].append(term if k == norm else mark[k] * term)
    num, den = sympy.Add(*sides[0]), sympy.Add(*sides[1])
    candidates = [num / den]
    orders = list(itertools.permutations(xs)) if len(xs) <= 3 else [xs]
    for order in orders:
        candidates.append(_horner(num, order) / _horner(den, order))
    if len(xs) > 1:  # over a grid: divided through by a power of one argument (see _candidates)
        for x in xs:
            for f in (num, den):
                e = _lowest_power(f, x)
                if e > 0:
                    candidates.append(sympy.expand(num / x**e) / sympy.expand(den / x**e))
    inputs = xs + marks
    scalars = frozenset(marks)
    full = {i: (1 << 20,) for i in range(len(xs))}
    ranked = []
    for i, form in enumerate(candidates):
        for use_cse in (False, True):
            program = _build(form, inputs, use_cse, scalars)
            ranked.append(((_per_point(program, full, 1 << 20), program.cost, i, use_cse), form, program))
    ranked.sort(key=lambda r: r[0])
    chosen: dict[_Program, sympy.Expr] = {}
    for _, form, program in ranked:
        chosen.setdefault(program, form)
    return [(form, program) for program, form in chosen.items()], ranked[0][0][0]


# ---- the evaluator ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Evaluator:
    """A compiled expression, called with its free symbols by name.

    ``ev(**values)`` returns float64 (an array for array inputs, ``numpy.float64``
    for scalars), or the exact value if compiled with ``exact=True``;
    ``ev.exact(**values)`` always returns it (Python ``int`` or ``Fraction``).

    Attributes: ``expr`` (the expression with the fixed values folded in), ``form``
    (the equal form that is evaluated over full arrays; `form_for` tells the one a call
    over broadcast arrays evaluates), ``names`` (the keyword arguments), ``fixed``,
    ``backend`` (``"numpy"``, ``"numexpr"`` or ``"numba"``), ``mode`` (``"float"`` or ``"exact"``),
    ``check`` (validate arguments), ``threads`` (of the numpy and numba backends) and ``source``
    (the generated Python).
    """

    expr: sympy.Expr
    names: tuple[str, ...]
    fixed: Mapping[str, sympy.Expr]
    backend: str
    mode: Literal["float", "exact"]
    check: bool
    threads: int
    _inputs: tuple[sympy.Symbol, ...] = field(repr=False)
    _rules: tuple[_Rule, ...] = field(repr=False)
    # the equal forms and their programs, cheapest first: given, or searched (sympy work) on first use
    _given_forms: tuple[tuple[sympy.Expr, _Program], ...] | None = field(repr=False, default=None)
    _kernels: dict[Any, Any] = field(repr=False, default_factory=dict)

    # ---- the forms, computed on first use: compile() itself does little sympy work ----
    @property
    def _forms(self) -> tuple[tuple[sympy.Expr, _Program], ...]:
        forms = self._kernels.get("forms")
        if forms is None:
            forms = self._kernels["forms"] = self._given_forms or _choose(self.expr, self._inputs)
        return forms  # type: ignore[no-any-return]

    @property
    def form(self) -> sympy.Expr:
        """The equal form evaluated over full arrays."""
        return self._forms[0][0]

    @property
    def _program(self) -> _Program:
        return self._forms[0][1]

    @property
    def source(self) -> str:
        """The generated Python (of `form`, the functional program)."""
        return _functional_source(self._program)

    @property
    def _functional(self) -> Callable[..., Any]:
        f = self._kernels.get("functional")
        if f is None:
            f = self._kernels["functional"] = _exec(self.source, "_functional")
        return f  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        fixed = ", ".join(f"{k}={v}" for k, v in self.fixed.items())
        return (f"Evaluator(({', '.join(self.names)}) -> {self.form}"
                + (f", fixed {{{fixed}}}" if fixed else "") + f", backend={self.backend!r})")

    # ---- arguments ----
    def _arguments(self, args: tuple[Any, ...], values: Mapping[str, Any]) -> list[Any]:
        if args:
            raise TypeError(f"pass arguments by name: {', '.join(f'{n}=...' for n in self.names)}")
        unknown = [k for k in values if k not in self.names]
        if unknown:
            k = unknown[0]
            why = (f"it is fixed at {self.fixed[k]} by compile()" if k in self.fixed
                   else f"expected {', '.join(self.names) or 'no arguments'}")
            raise TypeError(f"unexpected argument {k!r}: {why}")
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f"missing argument{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(map(repr, missing))} (expected {', '.join(self.names)})")
        return [values[n] for n in self.names]

    def exact(self, *args: Any, **values: Any) -> int | Fraction | float | sympy.Expr:
        """The exact value at scalar arguments: ``int`` or ``Fraction`` (``float`` only from float constants)."""
        given = self._arguments(args, values)
        table: dict[sympy.Symbol, sympy.Expr] = {}
        for symbol, rule, v in zip(self._inputs, self._rules, given, strict=True):
            if np.ndim(v) > 0:
                raise TypeError(f"{rule.name}: exact mode takes scalars, not an array")
            x = _scalar_exact(rule, v)
            table[symbol] = sympy.Rational(repr(x)) if isinstance(x, float) else sympy.Rational(x)
        value = self.form.xreplace(table)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            shown = ", ".join(f"{n}={v!r}" for n, v in zip(self.names, given, strict=True))
            raise ValueError(f"{self.form} is undefined at {shown} (division by zero)")
        if isinstance(value, sympy.Integer):
            return int(value)
        if isinstance(value, sympy.Rational):
            return Fraction(int(value.p), int(value.q))
        if isinstance(value, sympy.Float):
            return float(value)
        return value

    def __call__(self, *args: Any, out: np.ndarray | None = None, **values: Any) -> Any:
        """Evaluate at the named arguments (numbers or arrays that broadcast together).

        ``out``: a float64 array of the broadcast shape to write the result into, as numpy's
        ``out=``; a sweep that reuses it skips allocating (and page-faulting) a fresh result
        each call. It is returned.
        """
        if self.mode == "exact":
            if out is not None:
                raise TypeError("out= is for float evaluation; this evaluator is exact (compile(..., exact=False))")
            return self.exact(*args, **values)
        given = self._arguments(args, values)
        scalars: dict[int, float] = {}
        arrays: dict[int, np.ndarray] = {}
        ducks: dict[int, Any] = {}
        exact: dict[int, Any] = {}  # the scalars as given (already validated): exact coefficients
        for i, (rule, v) in enumerate(zip(self._rules, given, strict=True)):
            if isinstance(v, np.ndarray):
                arrays[i] = v if v.ndim else np.asarray(v)
            elif isinstance(v, (list, tuple)):
                arrays[i] = np.asarray(v)
            elif hasattr(v, "__array_ufunc__") and hasattr(v, "dtype") and not isinstance(v, np.generic):
                ducks[i] = v
            else:
                scalars[i] = _scalar_float(rule, v) if self.check else float(v)
                exact[i] = v
        for i, a in list(arrays.items()):
            if a.ndim == 0:
                scalars[i] = _scalar_float(self._rules[i], a) if self.check else float(a)
                exact[i] = a
                del arrays[i]
        if ducks:
            if out is not None:
                raise TypeError("out= takes a numpy array; with dask (duck) arrays the result is lazy")
            return self._call_duck(scalars, arrays, ducks)
        if out is not None:
            self._check_outs(out, np.broadcast_shapes(*(a.shape for a in arrays.values())))
        if not arrays:
            with _raising():
                try:
                    value = self._functional(*(np.float64(scalars[i]) for i in range(len(given))))
                except FloatingPointError as err:
                    raise self._fp_error(err, given) from None
            if isinstance(value, tuple):
                if out is None:
                    return tuple(np.float64(v) for v in value)
                for buffer, v in zip(out, value, strict=True):
                    buffer[...] = v
                return out
            if out is None:
                return np.float64(value)
            out[...] = value
            return out
        return self._call_arrays(scalars, arrays, given, out, exact)

    def _plan(self, array_idx: tuple[int, ...]) -> Any:
        """The kernel specialised to these array arguments (the others scalars), or None."""
        return _Special.build(self, array_idx)

    def _check_outs(self, out: Any, shape: tuple[int, ...]) -> None:
        _check_out(out, shape)

    def _fp_error(self, err: FloatingPointError, given: list[Any]) -> ValueError:
        shown = ", ".join(f"{n}={v!r}" if np.ndim(v) == 0 else f"{n}=<array>"
                          for n, v in zip(self.names, given, strict=True))
        return ValueError(f"{self.form} is not a finite float64 at {shown} ({err})")

    def _call_duck(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], ducks: dict[int, Any]) -> Any:
        """Duck arrays (dask): the functional program, lazily; checks run chunk by chunk."""
        args: list[Any] = [None] * len(self.names)
        for i, s in scalars.items():
            args[i] = s
        for i, a in arrays.items():
            floating = _real_dtype(self.names[i], a.dtype)
            if self.check and not self._rules[i].array_ok(a, floating):
                raise self._rules[i].array_bad(a)
            args[i] = a.astype(np.float64, copy=False)
        for i, d in ducks.items():
            floating = _real_dtype(self.names[i], np.dtype(d.dtype))
            rule = self._rules[i]
            if self.check and hasattr(d, "map_blocks") and type(d).__module__.startswith("dask"):
                d = d.map_blocks(functools.partial(_checked_block, rule, floating), dtype=np.float64)
            elif self.check:
                if not rule.array_ok(np.asarray(d), floating):
                    raise rule.array_bad(np.asarray(d))
                d = d.astype(np.float64)
            else:
                d = d.astype(np.float64)
            args[i] = d
        return self._functional(*args)

    def _call_arrays(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], given: list[Any],
                     out: np.ndarray | None, exact: Mapping[int, Any] | None = None) -> Any:
        try:
            with _raising():
                if scalars and exact is not None:
                    special = self._specialised(tuple(sorted(arrays)), exact)
                    if special is not None:
                        sub, constants = special
                        return sub._run(constants, {j: arrays[i] for j, i in enumerate(sorted(arrays))}, out)
                return self._run(scalars, arrays, out)
        except FloatingPointError as err:
            raise self._fp_error(err, given) from None

    def _specialised(self, array_idx: tuple[int, ...], exact: Mapping[int, Any]
                     ) -> tuple[Evaluator, dict[int, float]] | None:
        """The evaluator specialised to these array arguments (the rest scalars) and its
        coefficients at these scalar values, exact then rounded once; None: use the general form."""
        key = ("special", array_idx)  # the signature: which arguments are arrays, never values
        if key not in self._kernels:
            self._kernels[key] = self._plan(array_idx)
        plan = self._kernels[key]
        if plan is None:
            return None
        constants = plan.constants([exact[i] for i in plan.scalar_idx])
        if constants is None:
            return None
        return plan.evaluator, constants

    def _run(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], out: np.ndarray | None) -> Any:
        shapes = {i: a.shape for i, a in arrays.items()}
        out_shape = np.broadcast_shapes(*shapes.values())
        size = math.prod(out_shape)
        floating = {i: _real_dtype(self.names[i], a.dtype) for i, a in arrays.items()}
        # full-size inputs are checked block by block (cache-hot); smaller ones here, whole
        fused = (self.backend == "numba" and size >= _numba.MIN_POINTS and len(out_shape) in (1, 2)
                 and all(_numba.supports(a.dtype) for a in arrays.values()) and _numba.usable())
        big = tuple(sorted(i for i, a in arrays.items() if a.size == size and (size > BLOCK or fused)))
        if self.check:
            for i, a in arrays.items():
                if i not in big and not self._rules[i].array_ok(a, floating[i]):
                    raise self._rules[i].array_bad(a)
        if self.backend == "numexpr":
            return self._numexpr_call(scalars, arrays, floating, big, out_shape, out)
        if fused:
            return self._numba_call(scalars, arrays, floating, big, out_shape, out)
        if size <= BLOCK:
            args = [scalars[i] if i in scalars else arrays[i].astype(np.float64, copy=False)
                    for i in range(len(self.names))]
            result = self._functional(*args)
            many = isinstance(result, tuple)
            outs = ((out,) if not many else tuple(out) if out is not None else (None,) * len(result))
            final: list[np.ndarray] = []
            for j, r in enumerate(result if many else (result,)):
                given = outs[j]
                if given is not None:
                    np.copyto(given, r)
                    final.append(given)
                elif np.shape(r) != out_shape:
                    final.append(np.broadcast_to(r, out_shape).copy())
                else:  # never the caller's input, nor another output, as a result
                    final.append(r.copy() if any(r is a for a in (*args, *final)) and many else r)
            if many:
                return out if out is not None else tuple(final)
            return final[0]
        return self._blocked(scalars, arrays, floating, big, out_shape, out)

    def form_for(self, **values: Any) -> sympy.Expr:
        """The equal form that a call with these arguments evaluates: `form`, unless some inputs
        broadcast and another form leaves less work per point (only shapes matter).

        >>> from symroof.symbols import B, S_c
        >>> ev = compile(B * (S_c + 5) / (B * (S_c + 1) + 3))
        >>> ev.form_for(B=np.ones(1000), S_c=np.ones(1000))        # two full arrays
        B*(S_c + 5)/(B*(S_c + 1) + 3)
        >>> ev.form_for(B=np.ones((1000, 1)), S_c=np.ones(1000))   # a grid: S_c + 5, S_c + 1, 3/B hoisted
        (S_c + 5)/(S_c + 1 + 3/B)

        With scalars among arrays, the form specialised to them, with the coefficients this call
        computes (exactly, then rounds each once): ``B·(S_c + 5)/(B·(S_c + 1) + 3)`` at S_c = 7:

        >>> ev.form_for(B=np.ones(1000), S_c=7)
        B/(2*B/3 + 1/4)
        """
        special = self._special_form(values)
        if special[0] is not None:
            form, table = special
            return form.xreplace(table)
        program = self._pick(*special[1])
        return next(form for form, p in self._forms if p == program)

    def _special_form(self, values: Mapping[str, Any]) -> tuple[Any, Any]:
        """For `form_for`: ``(form, constants)`` of the call-time-scalar kernel a call with these
        arguments runs (its exact constants by symbol), else ``(None, (arrays, size))``."""
        given = self._arguments((), values)
        arrays = {i: np.asarray(v) for i, v in enumerate(given) if np.ndim(v) > 0}
        size = math.prod(np.broadcast_shapes(*(a.shape for a in arrays.values()))) if arrays else 1
        if arrays and len(arrays) < len(given) and self.mode == "float":
            key = ("special", tuple(sorted(arrays)))
            if key not in self._kernels:
                self._kernels[key] = self._plan(key[1])
            plan = self._kernels[key]
            if plan is not None:
                exact = plan.exact_constants([given[i] for i in plan.scalar_idx])
                if exact is not None and all(c >= 0 for c in exact):
                    sub = plan.evaluator
                    remapped = {j: arrays[i] for j, i in enumerate(sorted(arrays))}
                    program = sub._pick(remapped, size)
                    form = next(form for form, p in sub._forms if p == program)
                    first = len(sub._inputs) - len(exact)
                    return form, {m: sympy.Rational(c.numerator, c.denominator)
                                  for m, c in zip(sub._inputs[first:], exact, strict=True)}
        return None, (arrays, size)

    def _pick(self, arrays: dict[int, np.ndarray], size: int) -> _Program:
        """The form with the least work per point for inputs of these shapes (first on ties)."""
        if len(self._forms) < 2 or all(a.size == size for a in arrays.values()):
            return self._program
        shapes = tuple(sorted((i, a.shape) for i, a in arrays.items()))
        return _least_work(tuple(program for _, program in self._forms), shapes, size)

    def _hoist(self, program: _Program, scalars: dict[int, float], arrays: dict[int, np.ndarray],
               out_shape: tuple[int, ...]) -> tuple[dict[int, Any], frozenset[int]]:
        """Values of the nodes that depend only on smaller (broadcast) inputs, computed once."""
        size = math.prod(out_shape)
        shape_of = {i: () for i in scalars} | {i: a.shape for i, a in arrays.items()}
        values: dict[int, Any] = {i: scalars[i] for i in scalars}
        values.update({i: a.astype(np.float64, copy=False) for i, a in arrays.items() if a.size < size})
        for k, (kind, ops) in enumerate(program.ops):
            n = program.n_inputs + k
            shape = np.broadcast_shapes(*(shape_of[i] for i in program.deps[n]))
            if math.prod(shape) < size and all(not isinstance(a, int) or a in values for a in ops):
                x = [a if isinstance(a, float) else values[a] for a in ops]
                values[n] = _apply(kind, x)
        leaves = frozenset(values) | frozenset(i for i in arrays if i not in values)
        return values, leaves

    def _leaves(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], floating: dict[int, bool],
                big: tuple[int, ...], out_shape: tuple[int, ...], out: Any
                ) -> tuple[_Program, tuple[int, ...], tuple[int, ...], list[float], tuple[np.ndarray, ...],
                           list[np.ndarray]]:
        """What a loop over the output reads: the program, its iterated leaves (full inputs as
        given and hoisted arrays) and scalar leaves (passed as Python floats), the scalars'
        values, the output buffers, and each iterated leaf as a view of the output's shape."""
        program = self._pick(arrays, math.prod(out_shape))
        values, leaf_set = self._hoist(program, scalars, arrays, out_shape)
        needed_leaves: set[int] = set()
        for n in _needed(program, leaf_set):
            needed_leaves.update(a for a in program.ops[n - program.n_inputs][1]
                                 if isinstance(a, int) and a in leaf_set)
        needed_leaves.update(r for r in program.roots if isinstance(r, int) and r in leaf_set)
        leaves = sorted(needed_leaves)
        source = {leaf: arrays[leaf] if leaf in big else values[leaf] for leaf in leaves}
        iterated = tuple(leaf for leaf in leaves if np.ndim(source[leaf]) > 0)
        scalar = tuple(leaf for leaf in leaves if np.ndim(source[leaf]) == 0)
        constants = [float(source[leaf]) for leaf in scalar]
        if self.check:
            for i in big:  # a full-size input that no loop reads directly: check it whole
                if i not in iterated and not self._rules[i].array_ok(arrays[i], floating[i]):
                    raise self._rules[i].array_bad(arrays[i])
        outs = _buffers(out, len(program.roots), out_shape)
        # every operand as a view of the output's shape: a broadcast input has stride 0 along the
        # axes it lacks, so the loop reads it in place instead of a copy expanded to the block
        operands = []
        for leaf in iterated:
            a = source[leaf]
            if any(np.may_share_memory(a, o) for o in outs) and not (
                    len(outs) == 1 and a.shape == outs[0].shape and a.strides == outs[0].strides
                    and a.ctypes.data == outs[0].ctypes.data):
                a = a.copy()  # out= overlaps this input, but not element for element
            operands.append(np.broadcast_to(a, out_shape))
        return program, iterated, scalar, constants, outs, operands

    def _numba_call(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], floating: dict[int, bool],
                    big: tuple[int, ...], out_shape: tuple[int, ...], out: Any) -> Any:
        """One fused loop compiled by numba (`symroof._numba`); numpy reruns a call whose loop
        met a non-finite value, to raise its error (or return what numpy returns)."""
        program, iterated, scalar, constants, outs, operands = self._leaves(
            scalars, arrays, floating, big, out_shape, out)
        checks = tuple((pos, self._rules[i].lower, self._rules[i].integer, floating[i])
                       for pos, i in enumerate(iterated) if self.check and i in big)
        loop_outs: tuple[np.ndarray, ...] = outs
        flat: _numba.Read = "flat"
        reads = (flat,) * len(operands)
        ndim = 1
        if len(out_shape) == 2 and all(a.flags.c_contiguous for a in (*operands, *outs)):
            # arrays of the output's shape only, in C order: one flat loop
            operands = [a.reshape(-1) for a in operands]
            loop_outs = tuple(o.reshape(-1) for o in outs)
        elif len(out_shape) == 2:
            # a column broadcast along the rows (stride 0 across) is read once per row, a row once
            # per column: 1-D arrays, not strided views of the whole grid
            ndim = 2
            reads = tuple(_read(a) for a in operands)
            operands = [a if r == "full" else a[:, 0] if r == "col" else a[0]
                        for a, r in zip(operands, reads, strict=True)]
        key = ("numba", program, iterated, scalar, checks, ndim, reads)
        if key not in self._kernels:
            self._kernels[key] = _numba.kernel(
                program.n_inputs, program.ops, _needed(program, frozenset(iterated + scalar)), program.roots,
                iterated, scalar, checks, ndim, reads)
        _numba.set_threads(min(self.threads, max(1, math.prod(out_shape) // _MIN_PER_THREAD)))
        bad, *counts = self._kernels[key](*operands, *constants, *loop_outs)
        for (pos, *_), count in zip(checks, counts, strict=True):
            if count:
                i = iterated[pos]
                raise self._rules[i].array_bad(arrays[i])
        if bad:
            return self._blocked(scalars, arrays, floating, big, out_shape, out)
        return outs if program.outputs else outs[0]

    def _blocked(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], floating: dict[int, bool],
                 big: tuple[int, ...], out_shape: tuple[int, ...], out: Any) -> Any:
        program, iterated, scalar, constants, outs, operands = self._leaves(
            scalars, arrays, floating, big, out_shape, out)
        key = ("numpy", program, iterated, scalar)
        if key not in self._kernels:
            src, count = _blocked_source(program, iterated, scalar)
            self._kernels[key] = (_exec(src, "_block"), count)
        kernel, count = self._kernels[key]
        # a full input that is not float64 is cast once per block, into a float64 buffer
        # (before any product: no int64 overflow, no float32 rounding)
        cast = [pos for pos, a in enumerate(operands) if a.dtype != np.float64]
        tests = ([(pos, self._rules[i].block_test(floating[i]), i) for pos, i in enumerate(iterated) if i in big]
                 if self.check else [])
        slabs = _slabs(out_shape, BLOCK)
        rules = self._rules

        def run(part: list[tuple[Any, ...]]) -> None:
            buffers: dict[tuple[int, ...], list[np.ndarray]] = {}
            with _raising():  # errstate is per thread: set it in each worker
                for where in part:
                    blocks = [o[where] for o in outs]
                    shape = blocks[0].shape
                    mine = buffers.get(shape)
                    if mine is None:  # a full block, or the short last one
                        mine = buffers[shape] = [np.empty(shape) for _ in range(count + len(cast) + 1)]
                    views = [a[where] for a in operands]
                    for j, pos in enumerate(cast):
                        np.copyto(mine[count + j], views[pos], casting="unsafe")
                        views[pos] = mine[count + j]
                    # checked after the cast, in cache (measured cheaper than reducing the input)
                    for pos, test, i in tests:
                        if not test(views[pos], mine[-1]):
                            raise rules[i].array_bad(arrays[i])
                    kernel(*views, *blocks, *mine[:count], *constants)

        threads = max(1, min(self.threads, math.prod(out_shape) // _MIN_PER_THREAD, len(slabs)))
        if threads == 1:
            run(slabs)
        else:
            cuts = [len(slabs) * k // threads for k in range(threads + 1)]
            futures = [_pool().submit(run, slabs[lo:hi]) for lo, hi in itertools.pairwise(cuts)]
            for future in futures:
                future.result()
        return outs if program.outputs else outs[0]

    def _numexpr_call(self, scalars: dict[int, float], arrays: dict[int, np.ndarray], floating: dict[int, bool],
                      big: tuple[int, ...], out_shape: tuple[int, ...], out: Any) -> Any:
        ne = _numexpr()
        assert ne is not None
        if self.check:
            for i in big:
                if not self._rules[i].array_ok(arrays[i], floating[i]):
                    raise self._rules[i].array_bad(arrays[i])
        program = self._pick(arrays, math.prod(out_shape))
        values, leaf_set = self._hoist(program, scalars, arrays, out_shape)
        names = {leaf: f"v{leaf}" for leaf in leaf_set}
        float_leaves = frozenset(leaf for leaf in leaf_set if leaf not in arrays or floating[leaf])
        key = ("numexpr", program, frozenset(names), float_leaves)
        if key not in self._kernels:  # one numexpr expression per output (numexpr has no statements)
            self._kernels[key] = [_numexpr_source(program, names, float_leaves, r) for r in program.roots]
        sources = self._kernels[key]
        local = {names[leaf]: (arrays[leaf] if leaf in arrays and leaf not in values else values[leaf])
                 for leaf in leaf_set}
        outs = _buffers(out, len(sources), out_shape) if out is not None else (None,) * len(sources)
        results = []
        for source, buffer in zip(sources, outs, strict=True):
            direct = (buffer is not None
                      and np.broadcast_shapes(*(np.shape(v) for v in local.values())) == out_shape
                      and not any(np.may_share_memory(buffer, v) for v in local.values()))
            result: np.ndarray = ne.evaluate(source, local_dict=local, out=buffer if direct else None)
            if buffer is not None and not direct:
                np.copyto(buffer, result)
                result = buffer
            elif result.shape != out_shape:
                result = np.broadcast_to(result, out_shape).copy()
            if self.check and result.size and not np.isfinite(np.add.reduce(result, axis=None)) \
                    and not np.isfinite(result).all():
                raise FloatingPointError("division by zero or overflow in numexpr")
            results.append(result)
        if program.outputs:
            return out if out is not None else tuple(results)
        return results[0]


def _read(a: np.ndarray) -> _numba.Read:
    """How a fused 2-D loop reads a view of the output's shape: stride 0 along an axis is broadcast."""
    if a.strides[0] and a.strides[1]:
        return "full"
    return "col" if a.strides[0] else "row"


def _slabs(shape: tuple[int, ...], block: int) -> list[tuple[Any, ...]]:
    """Index tuples that cut an array of ``shape`` into slabs of at most ``block`` elements
    (and at least one row of the last axis), contiguous in C order.

    >>> _slabs((10,), 4)
    [(slice(0, 4, None),), (slice(4, 8, None),), (slice(8, 10, None),)]
    >>> _slabs((3, 5), 10)           # two whole rows per slab
    [(slice(0, 2, None),), (slice(2, 3, None),)]
    >>> _slabs((2, 7), 4)            # a row is longer than a block: cut along it
    [(0, slice(0, 4, None)), (0, slice(4, 7, None)), (1, slice(0, 4, None)), (1, slice(4, 7, None))]
    """
    axis, tail = len(shape), 1
    while axis > 0 and tail * shape[axis - 1] <= block:
        axis -= 1
        tail *= shape[axis]
    if axis == 0:
        return [()]
    step = max(1, block // tail)
    n = shape[axis - 1]
    return [(*outer, slice(lo, min(lo + step, n))) for outer in np.ndindex(*shape[:axis - 1])
            for lo in range(0, n, step)]


def _buffers(out: Any, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The ``n`` output buffers: ``out`` (one array, or a tuple of ``n``) or fresh ones."""
    if out is None:
        return tuple(np.empty(shape) for _ in range(n))
    return out if isinstance(out, tuple) else (out,)


def _check_out(out: object, shape: tuple[int, ...]) -> None:
    """``out=`` must be a writeable float64 numpy array of the result's shape."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, not {type(out).__name__}")
    if out.dtype != np.float64 or out.shape != shape:
        raise ValueError(f"out must be a float64 array of shape {shape}, got {out.dtype} of shape {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def _apply(kind: str, x: list[Any]) -> Any:
    return getattr(np, _UFUNCS[kind])(*x)


def _checked_block(rule: _Rule, floating: bool, block: np.ndarray) -> np.ndarray:
    if not rule.array_ok(block, floating):
        raise rule.array_bad(block)
    return block.astype(np.float64)


# ---- several outputs in one pass ------------------------------------------------------------------
# Per output: ("base", j, -1), the j-th base expression, or ("ratio", j, k): base j / base k (the
# intensity, from the FLOPs and bytes already computed: no third rational function).
_Spec = tuple[tuple[str, int, int], ...]


def _build_many(bases: tuple[sympy.Expr, ...], spec: _Spec, inputs: tuple[sympy.Symbol, ...],
                scalars: frozenset[sympy.Symbol] = frozenset()) -> _Program:
    """One program for every output: ``sympy.cse`` across the bases, each ratio one division."""
    builder = _Builder(inputs, scalars)
    replacements, reduced = sympy.cse(list(bases), symbols=sympy.numbered_symbols("_cse"), order="none")
    for name, sub in replacements:
        builder.nodes[name] = builder.emit(sub)
    nodes = [builder.emit(e) for e in reduced]
    roots = tuple(nodes[j] if kind == "base" else builder.op("div", nodes[j], nodes[k]) for kind, j, k in spec)
    return builder.program(roots[0], roots)


def _output_forms(bases: tuple[sympy.Expr, ...], spec: _Spec) -> tuple[sympy.Expr, ...]:
    return tuple(bases[j] if kind == "base" else bases[j] / bases[k] for kind, j, k in spec)


def _polynomial(e: sympy.Expr, inputs: tuple[sympy.Symbol, ...]) -> bool:
    return not e.has(sympy.Float) and bool(e.is_polynomial(*inputs))


def _rank_many(candidates: list[tuple[sympy.Expr, ...]], spec: _Spec, inputs: tuple[sympy.Symbol, ...],
               scalars: frozenset[sympy.Symbol], n_arrays: int) -> tuple[tuple[tuple[sympy.Expr, ...], _Program], ...]:
    """Programs of the candidate bases, least work per point over full arrays first, each once."""
    full = {i: (1 << 20,) for i in range(n_arrays)}
    ranked = []
    for i, bases in enumerate(candidates):
        program = _build_many(bases, spec, inputs, scalars)
        ranked.append(((_per_point(program, full, 1 << 20), program.cost, i), bases, program))
    ranked.sort(key=lambda r: r[0])
    chosen: dict[_Program, tuple[sympy.Expr, ...]] = {}
    for _, bases, program in ranked:
        chosen.setdefault(program, bases)
    return tuple((_output_forms(bases, spec), program) for program, bases in chosen.items())


def _choose_many(bases: tuple[sympy.Expr, ...], spec: _Spec, inputs: tuple[sympy.Symbol, ...]
                 ) -> tuple[tuple[tuple[sympy.Expr, ...], _Program], ...]:
    """The bases as given, and each polynomial base expanded in Horner form (every order of up to
    three inputs; not where expanding brings in a subtraction)."""
    candidates = [bases]
    expanded = []
    for b in bases:
        e = sympy.expand(b) if _polynomial(b, inputs) else b
        expanded.append(b if _has_negative_constant(e) and not _has_negative_constant(b) else e)
    candidates.append(tuple(expanded))
    orders = list(itertools.permutations(inputs)) if len(inputs) <= 3 else [inputs]
    for order in orders:
        candidates.append(tuple(_horner(e, order) if _polynomial(e, inputs) else e for e in expanded))
    return _rank_many(candidates, spec, inputs, frozenset(), len(inputs))


@dataclass(frozen=True)
class _ManySpecial:
    """A call signature's kernel for several outputs: each polynomial base as ``Σ c_m·x^m`` over the
    array arguments ``x``, each coefficient a polynomial of the scalar arguments, computed exactly
    per call and rounded once (``coefficients``); ``evaluator`` takes the arrays, then them."""

    scalar_idx: tuple[int, ...]
    coefficients: Callable[..., tuple[Any, ...]]
    others: tuple[int, ...]
    evaluator: MultiEvaluator

    def exact_constants(self, values: list[Any]) -> list[Fraction] | None:
        return [Fraction(c) for c in self.coefficients(*[_exact_number(v) for v in values])]

    def constants(self, values: list[Any]) -> dict[int, float] | None:
        """Input index -> coefficient, or None (a negative one, which could cancel digits, or one
        too large for float64): the general program takes over."""
        try:
            c = self.coefficients(*[_exact_number(v) for v in values])
            first = len(self.evaluator._inputs) - len(c)
            out = {first + j: float(v) for j, v in enumerate(c)}
        except (OverflowError, ValueError):
            return None
        if any(v < 0 or not math.isfinite(v) for v in out.values()):
            return None
        return out

    @classmethod
    def build(cls, ev: MultiEvaluator, array_idx: tuple[int, ...]) -> _ManySpecial | None:
        inputs = ev._inputs
        if not array_idx or not all(_polynomial(b, inputs) for b in ev._bases):
            return None
        scalar_idx = tuple(i for i in range(len(inputs)) if i not in array_idx)
        xs = tuple(inputs[i] for i in array_idx)
        marks: list[sympy.Symbol] = []
        sums: list[dict[tuple[int, ...], sympy.Symbol]] = []
        returns = []
        for b in ev._bases:
            poly = sympy.Poly(b, *inputs) if b.free_symbols else None
            terms = poly.as_dict() if poly is not None else ({(0,) * len(inputs): b} if b != 0 else {})
            scale = math.lcm(*(int(sympy.Rational(c).q) for c in terms.values()))
            grouped: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
            for monom, c in terms.items():
                inner = grouped.setdefault(tuple(monom[i] for i in array_idx), {})
                sm = tuple(monom[i] for i in scalar_idx)
                inner[sm] = inner.get(sm, 0) + int(sympy.Rational(c) * scale)
            mine: dict[tuple[int, ...], sympy.Symbol] = {}
            for m, inner in grouped.items():
                if any(inner.values()):
                    mark = sympy.Symbol(f"_c{len(marks)}", positive=True)
                    marks.append(mark)
                    mine[m] = mark
                    text = _polynomial_source({k: v for k, v in inner.items() if v})
                    returns.append(f"_Fraction({text}, {scale})" if scale != 1 else f"({text})")
            sums.append(mine)
        source = (f"def _coefficients({', '.join(f's{k}' for k in range(len(scalar_idx)))}):\n"
                  f"    return ({''.join(r + ', ' for r in returns)})\n")
        coefficients = _exec(source, "_coefficients")
        plain = tuple(sympy.Add(*(c * sympy.Mul(*(x**e for x, e in zip(xs, m, strict=True)))
                                  for m, c in side.items())) for side in sums)
        candidates = [plain]
        for order in list(itertools.permutations(xs)) if len(xs) <= 3 else [xs]:
            candidates.append(tuple(_horner(e, order) for e in plain))
        all_inputs = xs + tuple(marks)
        forms = _rank_many(candidates, ev._spec, all_inputs, frozenset(marks), len(xs))
        rules = tuple(ev._rules[i] for i in array_idx) + tuple(_Rule(m.name, False, "none") for m in marks)
        sub = MultiEvaluator(
            expr=forms[0][0], names=tuple(s.name for s in all_inputs), fixed=MappingProxyType({}),
            backend=ev.backend, mode="float", check=ev.check, threads=ev.threads,
            _inputs=all_inputs, _rules=rules, _given_forms=forms, outputs=ev.outputs, _bases=plain,
            _spec=ev._spec)
        return cls(scalar_idx, coefficients, tuple(range(len(marks))), sub)


@dataclass(frozen=True, eq=False)
class MultiEvaluator(Evaluator):
    """Several outputs of one `Cost` (or several expressions) in one pass over the points.

    ``compile(cost, ("flops", "bytes", "intensity"))`` returns one. A call returns a tuple of
    float64 arrays, one per output in the order asked, as numpy's ufuncs with several outputs
    (``np.divmod``, ``np.frexp``) do; ``out=`` takes a tuple of buffers, one per output, and
    returns it. The outputs' common subexpressions are computed once per point (``sympy.cse``
    across them), and ``"intensity"`` is the FLOPs divided by the bytes already computed, one
    division per point. ``ev.exact(...)`` returns the tuple of exact values; ``ev.outputs`` names
    the outputs and ``ev.form`` is the tuple of their forms.

    >>> import numpy as np, symroof
    >>> from symroof.symbols import B, H
    >>> cost = symroof.Cost(flops={"mlp": 2 * B * H**2}, bytes={"weights": 2 * H**2, "act": 4 * B * H})
    >>> ev = compile(cost, ("flops", "bytes", "intensity"), H=4096)
    >>> ev.outputs
    ('flops', 'bytes', 'intensity')
    >>> flops, bytes_, intensity = ev(B=np.array([2048, 6144]))
    >>> intensity    # 2·4096²·B / (2·4096² + 4·4096·B) = 2048·B/(B + 2048)
    array([1024., 1536.])
    >>> bufs = (np.empty(2), np.empty(2), np.empty(2))
    >>> ev(B=np.array([2048, 6144]), out=bufs) is bufs
    True
    >>> ev.exact(B=1)   # 2·4096², 2·4096² + 4·4096, their ratio
    (33554432, 33570816, Fraction(2048, 2049))
    """

    outputs: tuple[str, ...] = ()
    _bases: tuple[sympy.Expr, ...] = field(repr=False, default=())
    _spec: _Spec = field(repr=False, default=())

    @property
    def _forms(self) -> tuple[tuple[Any, _Program], ...]:
        forms = self._kernels.get("forms")
        if forms is None:
            forms = self._kernels["forms"] = self._given_forms or _choose_many(self._bases, self._spec, self._inputs)
        return forms  # type: ignore[no-any-return]

    @property
    def form(self) -> tuple[sympy.Expr, ...]:  # type: ignore[override]
        """The forms of the outputs evaluated over full arrays."""
        return self._forms[0][0]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        fixed = ", ".join(f"{k}={v}" for k, v in self.fixed.items())
        return (f"MultiEvaluator(({', '.join(self.names)}) -> ({', '.join(self.outputs)})"
                + (f", fixed {{{fixed}}}" if fixed else "") + f", backend={self.backend!r})")

    def _plan(self, array_idx: tuple[int, ...]) -> Any:
        return _ManySpecial.build(self, array_idx)

    def _check_outs(self, out: Any, shape: tuple[int, ...]) -> None:
        if not isinstance(out, tuple) or len(out) != len(self.outputs):
            raise TypeError(f"out must be a tuple of {len(self.outputs)} arrays, one per output "
                            f"({', '.join(self.outputs)})")
        for o in out:
            _check_out(o, shape)
        for a, b in itertools.combinations(out, 2):
            if np.may_share_memory(a, b):
                raise ValueError("the buffers of out overlap: give each output its own")

    def exact(self, *args: Any, **values: Any) -> tuple[int | Fraction | float | sympy.Expr, ...]:  # type: ignore[override]
        """The exact value of each output at scalar arguments (``int`` or ``Fraction``)."""
        given = self._arguments(args, values)
        table: dict[sympy.Symbol, sympy.Expr] = {}
        for symbol, rule, v in zip(self._inputs, self._rules, given, strict=True):
            if np.ndim(v) > 0:
                raise TypeError(f"{rule.name}: exact mode takes scalars, not an array")
            x = _scalar_exact(rule, v)
            table[symbol] = sympy.Rational(repr(x)) if isinstance(x, float) else sympy.Rational(x)
        bases = [b.xreplace(table) for b in self._bases]
        out: list[int | Fraction | float | sympy.Expr] = []
        for what, (kind, j, k) in zip(self.outputs, self._spec, strict=True):
            value = bases[j] if kind == "base" else None
            if kind == "ratio":
                if bases[k] == 0:
                    shown = ", ".join(f"{n}={v!r}" for n, v in zip(self.names, given, strict=True))
                    raise ValueError(f"{what} is undefined at {shown} (division by zero)")
                value = bases[j] / bases[k]
            assert value is not None
            if isinstance(value, sympy.Integer):
                out.append(int(value))
            elif isinstance(value, sympy.Rational):
                out.append(Fraction(int(value.p), int(value.q)))
            elif isinstance(value, sympy.Float):
                out.append(float(value))
            else:
                out.append(value)
        return tuple(out)

    def form_for(self, **values: Any) -> tuple[sympy.Expr, ...]:  # type: ignore[override]
        """The forms of the outputs that a call with these arguments evaluates (see `Evaluator.form_for`)."""
        special = self._special_form(values)
        if special[0] is not None:
            forms, table = special
            return tuple(f.xreplace(table) for f in forms)
        program = self._pick(*special[1])
        return next(form for form, p in self._forms if p == program)  # type: ignore[no-any-return]


def _many_spec(target: Any, what: Any) -> tuple[tuple[str, ...], tuple[sympy.Expr, ...], _Spec]:
    """The outputs' names, the base expressions and, per output, how it comes from them."""
    bases: dict[sympy.Expr, int] = {}

    def base(e: sympy.Expr) -> int:
        return bases.setdefault(e, len(bases))

    spec: list[tuple[str, int, int]] = []
    if isinstance(target, Cost):
        names = tuple(what)
        if not names:
            raise ValueError("what=() names no output")
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"what: each output is named by a string, not {type(name).__name__}")
            if name == "intensity":
                spec.append(("ratio", base(target.flops), base(target.bytes)))
            else:
                spec.append(("base", base(_select(target, name)), -1))
    else:
        if what is not None:
            raise ValueError("what names outputs of a Cost; give several expressions as a tuple")
        exprs = [_select(e, None) for e in target]
        if not exprs:
            raise ValueError("compile(()) names no expression")
        names = tuple(str(e) for e in exprs)
        spec = [("base", base(e), -1) for e in exprs]
    return names, tuple(bases), tuple(spec)


def _input_symbols(exprs: list[sympy.Expr]) -> tuple[sympy.Symbol, ...]:
    inputs = tuple(sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name))
    names = tuple(s.name for s in inputs)
    if len(set(names)) != len(names):
        shown = exprs[0] if len(exprs) == 1 else exprs
        raise ValueError(f"two different symbols share a name in {shown}: {', '.join(names)}")
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"symbol name {name!r} cannot be a keyword argument")
        if name == "out":
            raise ValueError("symbol name 'out' is taken by the evaluator's out= argument; rename the symbol")
    return inputs


@functools.lru_cache(maxsize=256)
def _compiled_many(outputs: tuple[str, ...], bases: tuple[sympy.Expr, ...], spec: _Spec,
                   items: tuple[tuple[sympy.Symbol, sympy.Expr], ...], backend: str, exact: bool, check: bool,
                   threads: int) -> MultiEvaluator:
    folded = tuple(b.xreplace(dict(items)) if items else b for b in bases)
    for b in folded:
        if b.has(sympy.zoo, sympy.nan):
            raise ValueError(f"{b} is undefined at {', '.join(f'{k}={v}' for k, v in items)}")
    for kind, j, k in spec:
        if kind == "ratio" and folded[k] == 0:
            raise ValueError(f"{folded[j]}/{folded[k]} divides by zero")
    inputs = _input_symbols(list(folded))
    _build_many(folded, spec, inputs)  # refuses what cannot be evaluated, here
    return MultiEvaluator(
        expr=_output_forms(folded, spec), names=tuple(s.name for s in inputs),
        fixed=MappingProxyType({k.name: v for k, v in items}),
        backend=backend, mode="exact" if exact else "float", check=check, threads=threads,
        _inputs=inputs, _rules=tuple(_Rule.of(s) for s in inputs), outputs=outputs, _bases=folded, _spec=spec)


# ---- compile -------------------------------------------------------------------------------------
def _select(target: Any, what: str | None) -> sympy.Expr:
    if isinstance(target, Cost):
        what = "intensity" if what is None else what
        if what == "intensity":
            return target.intensity
        if what == "flops":
            return target.flops
        if what == "bytes":
            return target.bytes
        if what in target.flop_terms and what in target.byte_terms:
            raise ValueError(f"what={what!r} names both a FLOP term and a byte term")
        if what in target.flop_terms:
            return target.flop_terms[what]
        if what in target.byte_terms:
            return target.byte_terms[what]
        in_flops = any(_under(k, what) for k in target.flop_terms)
        in_bytes = any(_under(k, what) for k in target.byte_terms)
        if in_flops != in_bytes:
            return target.flops_of(what) if in_flops else target.bytes_of(what)
        terms = sorted({*target.flop_terms, *target.byte_terms})
        raise ValueError(f"what={what!r} is not 'intensity', 'flops', 'bytes' or a term of this cost "
                         f"({', '.join(terms)})")
    if what is not None:
        raise ValueError(f"what={what!r} applies to a Cost only; got {type(target).__name__}")
    if isinstance(target, str):
        raise TypeError("compile() never parses text: build the expression from symroof.symbols")
    if isinstance(target, bool):
        raise TypeError("compile() takes a SymPy expression or a Cost, not a bool")
    if isinstance(target, (numbers.Rational, sympy.Basic)):
        expr = sympy.sympify(target, strict=True) if not isinstance(target, sympy.Basic) else target
        if isinstance(expr, sympy.Expr):
            return expr
    raise TypeError(f"compile() takes a SymPy expression or a Cost, not {type(target).__name__}")


def _fixed_values(expr: sympy.Expr, scope: set[sympy.Symbol],
                  values: Mapping[Any, Any]) -> tuple[tuple[sympy.Symbol, sympy.Expr], ...]:
    """Validated exact values of the fixed symbols that ``expr`` has (``scope``: names allowed)."""
    by_name = {s.name: s for s in scope}
    out: dict[sympy.Symbol, sympy.Expr] = {}
    for key, value in values.items():
        symbol = by_name.get(key.name if isinstance(key, sympy.Symbol) else key)
        if symbol is None or (isinstance(key, sympy.Symbol) and key != symbol):
            allowed = ", ".join(sorted(by_name)) or "none"
            raise ValueError(f"fixed {key!s} is not a symbol of the expression (its symbols: {allowed})")
        x = _scalar_exact(_Rule.of(symbol), value)
        if symbol in expr.free_symbols:
            out[symbol] = sympy.Rational(x) if not isinstance(x, float) else sympy.Rational(repr(x))
    return tuple(sorted(out.items(), key=lambda kv: kv[0].name))


def compile(target: sympy.Expr | Cost | tuple[sympy.Expr, ...], what: str | tuple[str, ...] | list[str] | None = None,
            *, fixed: Mapping[Any, Any] | None = None, backend: str = "auto", exact: bool = False,
            check: bool = True, threads: int | None = None, **fixed_values: Any) -> Evaluator:
    """Compile an expression (or one quantity of a `Cost`) into a fast `Evaluator`.

    ``what`` chooses from a Cost: ``"intensity"`` (default), ``"flops"``, ``"bytes"``,
    a term name (``"kv/read"``) or a term prefix (``"attention"``); a tuple or list of them
    (``("flops", "bytes", "intensity")``) compiles them together into a `MultiEvaluator`, one pass
    that returns a tuple of arrays (and so does a tuple of expressions as ``target``). ``fixed`` (or
    keywords) folds values in at compile time. ``backend``: ``"numpy"`` (blocked
    in-place ufuncs), ``"numexpr"``, ``"numba"`` (one fused parallel loop for arrays of
    at least ``symroof._numba.MIN_POINTS`` points, numpy below; both need the ``fast``
    extra) or ``"auto"``: numba when it is installed, else numpy (on this project's 2-core
    machines the fused loop measured about half one numpy pass, the blocked ufuncs about
    one, numexpr slower; ``benchmarks/evaluate.py`` prints them side by side).
    ``exact=True`` makes calls return exact ``int``/``Fraction``; ``check=False``
    skips argument validation (the caller guarantees valid inputs); ``threads``
    (default: the cores this process may use) splits large arrays among threads
    (numpy's blocks or numba's loop).
    Dask arrays run the plain numpy program lazily, whatever the backend.

    >>> import symroof
    >>> cost = symroof.decode(symroof.models.get("llama-3-8b"), "exact")
    >>> ev = compile(cost, S_c=4096)
    >>> ev.form    # 2094400·B / (65649·B + 1832257): weights, and per sequence KV, activations, an embedding row
    B/(65649*B/2094400 + 261751/299200)
    >>> float(ev(B=64))  # 2094400·64 / (65649·64 + 1832257) = 134041600 / 6033793
    22.21514...
    >>> compile(cost, "kv/read", S_c=4096).exact(B=2)
    1073741824
    """
    if threads is None:
        threads = _cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r} must be a positive integer")
    if isinstance(what, (tuple, list)) or (isinstance(target, (tuple, list)) and what is None):
        outputs, bases, spec = _many_spec(target, what)
        scope = target.free_symbols if isinstance(target, Cost) else set().union(*(b.free_symbols for b in bases))
        items = _fixed_values(sympy.Tuple(*bases), scope, {**(fixed or {}), **fixed_values})
        return _compiled_many(outputs, bases, spec, items, _resolve_backend(backend), bool(exact), bool(check),
                              threads)
    expr = _select(target, what)
    # a Cost's symbols may all be fixed, also those that the chosen term lacks (S_i of kv/read)
    scope = target.free_symbols if isinstance(target, Cost) else expr.free_symbols
    items = _fixed_values(expr, scope, {**(fixed or {}), **fixed_values})
    return _compiled(expr, items, _resolve_backend(backend), bool(exact), bool(check), threads)


@functools.lru_cache(maxsize=512)
def _compiled(expr: sympy.Expr, items: tuple[tuple[sympy.Symbol, sympy.Expr], ...], backend: str,
              exact: bool, check: bool, threads: int) -> Evaluator:
    folded = expr.xreplace(dict(items)) if items else expr
    if isinstance(folded, sympy.Expr) and folded.has(sympy.zoo, sympy.nan):
        raise ValueError(f"{expr} is undefined at {', '.join(f'{k}={v}' for k, v in items)}")
    inputs = _input_symbols([folded])
    names = tuple(s.name for s in inputs)
    # the expression as given, compiled as it stands: refuses what cannot be evaluated (sin,
    # a constant beyond float64) here; the search for cheaper forms waits for the first call
    # that needs it (a call with scalars among arrays needs only its own, smaller search)
    _build(folded, inputs, False)
    return Evaluator(
        expr=folded, names=names,
        fixed=MappingProxyType({k.name: v for k, v in items}),
        backend=backend, mode="exact" if exact else "float", check=check, threads=threads,
        _inputs=inputs, _rules=tuple(_Rule.of(s) for s in inputs),
    )
