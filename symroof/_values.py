"""Turn user-supplied numbers into exact SymPy values, or fail with one clear line.

Counts (tokens, layers, heads, widths) become positive ``Integer``; amounts
(bytes per element, FLOP/s, bytes/s) become positive ``Rational`` (a float is
read as the decimal it prints as, so ``0.5`` is ``1/2`` and ``1.5e12`` is
``1500000000000``). Symbolic values pass through; a symbolic value that SymPy
can prove non-positive is rejected.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral
from numbers import Rational as _RationalABC

import sympy

Value = int | float | Fraction | sympy.Expr


def as_count(value: object, field: str, *, allow_zero: bool = False) -> sympy.Expr:
    """A positive integer (or zero when ``allow_zero``), kept exact; or a symbolic expression."""
    lower = "a non-negative" if allow_zero else "a positive"
    if isinstance(value, bool):
        raise ValueError(f"{field}={value!r} must be {lower} integer, not a bool")
    if isinstance(value, sympy.Basic):
        expr = value
    elif isinstance(value, Integral):
        expr = sympy.Integer(int(value))
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"{field}={value!r} must be {lower} integer")
        expr = sympy.Integer(int(value))
    else:
        raise ValueError(
            f"{field}={value!r} must be {lower} integer or a SymPy expression, "
            f"not {type(value).__name__}"
        )
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"{field}={value!r} must be a SymPy expression")
    if expr.is_number:
        if expr.is_integer is not True:
            raise ValueError(f"{field}={value!r} must be {lower} integer")
        if expr.is_negative or (expr.is_zero and not allow_zero):
            raise ValueError(f"{field}={value!r} must be {lower} integer")
    elif expr.is_nonpositive or (expr.is_zero and not allow_zero) or expr.is_negative:
        raise ValueError(f"{field}={value!r} must be {lower} integer")
    return expr


def as_amount(value: object, field: str, *, allow_zero: bool = False) -> sympy.Expr:
    """A positive exact rational (floats read as their decimal repr), or a symbolic expression."""
    lower = "non-negative" if allow_zero else "positive"
    if isinstance(value, bool):
        raise ValueError(f"{field}={value!r} must be a {lower} number, not a bool")
    if isinstance(value, sympy.Basic):
        expr = value
    elif isinstance(value, Integral):
        expr = sympy.Integer(int(value))
    elif isinstance(value, _RationalABC):
        expr = sympy.Rational(int(value.numerator), int(value.denominator))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field}={value!r} must be a finite {lower} number")
        expr = sympy.Rational(repr(value))
    else:
        raise ValueError(
            f"{field}={value!r} must be a {lower} number or a SymPy expression, "
            f"not {type(value).__name__}"
        )
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"{field}={value!r} must be a SymPy expression")
    if expr.is_number:
        if expr.is_extended_real is not True or expr.is_finite is False:
            raise ValueError(f"{field}={value!r} must be a finite {lower} number")
        if expr.is_negative or (expr.is_zero and not allow_zero):
            raise ValueError(f"{field}={value!r} must be a {lower} number")
    elif expr.is_negative or (expr.is_zero and not allow_zero):
        raise ValueError(f"{field}={value!r} must be a {lower} number")
    return expr


def as_expr(value: object, field: str) -> sympy.Expr:
    """A SymPy expression or a number, exactly (floats read as their decimal repr); never text.

    Strings are refused rather than parsed: SymPy's parser evaluates Python.
    """
    if isinstance(value, sympy.Basic):
        if not isinstance(value, sympy.Expr):
            raise ValueError(f"{field}={value!r} must be a SymPy expression")
        return value
    if isinstance(value, bool) or not isinstance(value, (Integral, _RationalABC, float)):
        raise ValueError(
            f"{field}={value!r} must be a number or a SymPy expression, not {type(value).__name__} "
            "(text is not parsed; build expressions from symroof.symbols)"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field}={value!r} must be finite")
        return sympy.Rational(repr(value))
    return sympy.Rational(int(value.numerator), int(value.denominator))


# Symbols that may be zero although declared positive: an empty KV cache (prefill is a step at
# S_c = 0, see symroof.cost.phases). The same rule as `symroof.evaluate.ZERO_ALLOWED`.
ZERO_ALLOWED = frozenset({"S_c"})


def as_value(symbol: sympy.Symbol, value: object, field: str | None = None) -> sympy.Expr:
    """A value for ``symbol``, by the one rule of its quantity (its assumptions).

    Integer symbols (``B``, ``S_c``, ``H`` ...) take counts (`as_count`; zero only where
    ``ZERO_ALLOWED`` says so), positive ones positive amounts (`as_amount`), others any finite
    number. ``cost.subs``, the phases, the analysis functions and the CLI all apply it.

    >>> from symroof.symbols import B, S_c, b_w
    >>> as_value(B, 8), as_value(S_c, 0), as_value(b_w, 0.5)
    (8, 0, 1/2)
    >>> as_value(B, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: B=0.5 must be a positive integer
    """
    name = field or symbol.name
    zero = symbol.name in ZERO_ALLOWED or not symbol.is_positive
    if symbol.is_integer:
        if not symbol.is_nonnegative and not symbol.is_positive:
            expr = as_expr(value, name)
            if expr.is_number and expr.is_integer is not True:
                raise ValueError(f"{name}={value!r} must be an integer")
            return expr
        return as_count(value, name, allow_zero=zero)
    if symbol.is_positive or symbol.is_nonnegative:
        return as_amount(value, name, allow_zero=zero)
    expr = as_expr(value, name)
    if expr.is_number and (expr.is_extended_real is not True or expr.is_finite is False):
        raise ValueError(f"{name}={value!r} must be a finite real number")
    return expr


def as_term(value: object, field: str) -> sympy.Expr:
    """A term of a `symroof.cost.Cost` (FLOPs or bytes): a non-negative finite number or an
    expression that is not provably negative, infinite or undefined; never text."""
    expr = as_expr(value, field)
    if expr.is_number:
        if expr.is_extended_real is not True or expr.is_finite is not True:
            raise ValueError(f"{field}={value!r} must be a finite non-negative number")
        if expr.is_negative:
            raise ValueError(f"{field}={value!r} must be a non-negative number")
        return expr
    if expr.has(sympy.nan, sympy.oo, -sympy.oo, sympy.zoo):
        raise ValueError(f"{field}={value!r} must be finite")
    if expr.is_negative:
        raise ValueError(f"{field}={value!r} must be non-negative")
    return expr


def choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (strings), or a ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")
    return value
