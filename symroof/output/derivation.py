"""Derivations: a document's numeric claims beside symroof's exact values, printed as text or LaTeX.

A `Claim` holds what a document prints (its number or formula as printed, the rounding that
number stands for, the section it stands in) under a label in the project's own words, next to
symroof's exact value. When the two disagree the claim is an
**erratum** and must say why (``cause``); when they agree it must not. A `Derivation` is a
document's argument rebuilt step by step: sections, remarks, formulas, tables and claims,
rendered as plain text or as a LaTeX document, with the errata collected.

Examples
--------
>>> w_q = Claim("W_q", "Weights", "size of the query matrix", printed="32", unit="MiB", value=4096 * 4096 * 2)
>>> w_q.holds, w_q.correct
(True, '32 MiB (33,554,432 bytes)')
>>> gate = Claim("W_gate", "Weights", "size of the gate matrix", printed="128", unit="MiB",
...              value=4096 * 14336 * 2, cause="4096·14336·2 = 117,440,512 bytes = 112 MiB")
>>> gate.holds, gate.correct
(False, '112 MiB (117,440,512 bytes)')
>>> Claim("approx", "Analysis", "prefill intensity", printed="10,000", rounding="sig:1",
...       value=sympy.Rational(10788)).holds      # 10,788 rounds to 10,000 at one significant figure
True
>>> Formula("P", "12*N*H**2")          # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: formula 'P': expr='12*N*H**2' must be a number or a SymPy expression, not str (text is not parsed...)
>>> d = Derivation("demo", "doc.txt")
>>> d.add(w_q, gate) and d.problems()
[]
>>> [c.label for c in d.errata]
['W_gate']
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import sympy

from symroof._values import as_expr
from symroof.output.latex import to_latex

__all__ = [
    "KINDS",
    "UNITS",
    "Claim",
    "Derivation",
    "Formula",
    "Remark",
    "Section",
    "Table",
    "Worked",
    "errata_markdown",
    "format_number",
    "run",
]

#: Units a document prints a number in, and their size in base units (bytes, FLOPs, seconds, 1).
UNITS: dict[str, sympy.Expr] = {
    "": sympy.Integer(1),
    "bytes": sympy.Integer(1),
    "FLOPs": sympy.Integer(1),
    "FLOPs/byte": sympy.Integer(1),
    "params": sympy.Integer(1),
    "tokens": sympy.Integer(1),
    "GPUs": sympy.Integer(1),
    "sequences": sympy.Integer(1),
    "kB": sympy.Integer(10) ** 3,
    "MB": sympy.Integer(10) ** 6,
    "GB": sympy.Integer(10) ** 9,
    "TB": sympy.Integer(10) ** 12,
    "MiB": sympy.Integer(2) ** 20,
    "GiB": sympy.Integer(2) ** 30,
    "billion": sympy.Integer(10) ** 9,
    "GFLOPs": sympy.Integer(10) ** 9,
    "TFLOPs": sympy.Integer(10) ** 12,
    "TFLOP/s": sympy.Integer(10) ** 12,
    "GB/s": sympy.Integer(10) ** 9,
    "TB/s": sympy.Integer(10) ** 12,
    "s": sympy.Integer(1),
    "ms": sympy.Rational(1, 10**3),
    "µs": sympy.Rational(1, 10**6),
    "%": sympy.Rational(1, 100),
}

#: What kind of mistake an erratum is.
KINDS: dict[str, str] = {
    "error": "wrong value",
    "rounding": "rounding",
    "label": "mislabelled",
    "approximation": "approximation",
    "ambiguity": "ambiguous wording",
}

# quantities (not rates) whose exact count in base units is worth printing beside the rounded value
_SHOW_BASE = {"kB": "bytes", "MB": "bytes", "GB": "bytes", "TB": "bytes", "MiB": "bytes", "GiB": "bytes",
              "GFLOPs": "FLOPs", "TFLOPs": "FLOPs", "billion": "params"}


# ---- numbers ---------------------------------------------------------------------------------
def _parse(printed: str) -> sympy.Rational:
    """A number as a document prints it: ``"10,000"``, ``"0.0217"``, ``"1/6"``, ``"25.17"``.

    Only digits, separators, one '.' and one '/' are read (by `fractions.Fraction`), never an
    expression: text is not handed to SymPy's parser, which evaluates Python.
    """
    text = printed.replace(",", "").replace(" ", "")
    if not re.fullmatch(r"\d+(\.\d+)?(/\d+)?", text):
        raise ValueError(f"printed={printed!r} is not a plain number (digits, commas, '.', '/')")
    exact = Fraction(text)
    return sympy.Rational(exact.numerator, exact.denominator)


def _tolerance(printed: str, rounding: str) -> sympy.Rational:
    """Half a unit in the last place the document printed (``digit``), or of the n-th
    significant figure (``sig:n``), or zero (``exact``)."""
    if rounding == "exact" or "/" in printed:
        return sympy.Integer(0)
    text = printed.replace(",", "").replace(" ", "")
    if rounding == "digit":
        decimals = len(text.split(".")[1]) if "." in text else 0
        return sympy.Rational(1, 2 * 10**decimals)
    match = re.fullmatch(r"sig:(\d)", rounding)
    if not match:
        raise ValueError(f"rounding={rounding!r} is not allowed; choose 'digit', 'exact' or 'sig:<n>'")
    value = _parse(printed)
    if value == 0:
        return sympy.Integer(0)
    exponent = math.floor(math.log10(value))
    if sympy.Integer(10) ** (exponent + 1) <= value:   # guard log10's float rounding
        exponent += 1
    return sympy.Integer(10) ** (exponent - int(match.group(1)) + 1) / 2


def _exact(value: Any, field: str = "value") -> sympy.Expr:
    """A number or SymPy expression, exact (a float is read as the decimal it prints as); text,
    lists and anything else are refused with one line naming ``field``, never parsed."""
    return as_expr(value, field)


def format_number(value: Any, digits: int = 4) -> str:
    """Exact integers with thousands separators, other numbers to ``digits`` significant figures.

    >>> format_number(117440512), format_number(sympy.Rational(65, 6)), format_number(0.0021)
    ('117,440,512', '10.83', '0.0021')
    """
    value = _exact(value)
    if value.is_Integer:
        return f"{int(value):,}"
    x = float(value)
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - exponent, 0)
    text = f"{round(x, decimals):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact equality of two formulas: decided by expanding the numerator for rational functions
    (the usual case here), by ``simplify`` otherwise."""
    difference = a - b
    if sympy.expand(difference) == 0:
        return True
    if difference.is_rational_function():
        numerator, _ = sympy.fraction(sympy.together(difference))
        return sympy.expand(numerator) == 0
    return sympy.simplify(difference) == 0


def _text(expr: sympy.Expr) -> str:
    """A formula as plain text: ``24·B·S·H^2``."""
    return sympy.sstr(expr).replace("**", "^").replace("*", "·")


# ---- blocks ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """A section of the derivation; ``where`` is the document's heading its claims stand under."""

    title: str
    where: str = ""


@dataclass(frozen=True)
class Remark:
    text: str


@dataclass(frozen=True)
class Formula:
    """A named expression: ``name = expr``. ``expr`` is a SymPy expression or a number, built in
    code (from `symroof.symbols`); text is refused, never parsed (for a worked step in words
    and numbers, use `Worked`)."""

    name: str
    expr: Any
    note: str = ""
    latex_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "expr", _exact(self.expr, f"formula {self.name!r}: expr"))

    def text(self) -> str:
        return f"{self.name} = {_text(self.expr)}" + (f"    ({self.note})" if self.note else "")

    def latex(self) -> str:
        note = f" ({_latex_text(self.note)})" if self.note else ""
        name = self.latex_name or r"\text{" + _latex_text(self.name) + "}"
        return rf"\[ {name} = {to_latex(self.expr)} \]" + (f"\n{note.strip()}\n" if note else "")


@dataclass(frozen=True)
class Worked:
    """A worked step in words and numbers, ``name = text``: shown as it is, never parsed."""

    name: str
    text: str
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"worked step {self.name!r}: text={self.text!r} must be a string "
                             "(an expression belongs in a Formula)")

    def line(self) -> str:
        return f"{self.name} = {self.text}" + (f"    ({self.note})" if self.note else "")

    def latex(self) -> str:
        note = f" ({_latex_text(self.note)})" if self.note else ""
        return rf"\par\noindent\hspace*{{1em}}{_latex_text(self.name)} = {_latex_text(self.text)}{note}\par"


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(tuple(map(str, r)) for r in self.rows))
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"table {self.caption!r}: row {row} has {len(row)} cells, "
                                 f"the header has {len(self.headers)}")


@dataclass(frozen=True)
class Claim:
    """One numeric (or formula) statement of a document, checked against symroof.

    Attributes
    ----------
    label:
        a short identifier, unique within its document (``"weights/W_gate"``).
    where:
        where the claim stands in the document: its section heading, as the document spells it
        (``"Prefill / Memory"`` for a subsection: headings from the outside in, joined by " / ").
    about:
        what the figure is, in the project's own words (``"size of one FFN matrix"``).
    printed:
        the document's value: a number as printed (``"10,000"``, ``"0.0217"``, ``"1/6"``),
        a SymPy expression, or a word (``"compute-bound"``) compared with a word ``value``.
    value:
        symroof's exact value in base units (bytes, FLOPs, seconds), or a SymPy expression,
        or a word. Text is never parsed into an expression.
    unit:
        the unit ``printed`` is in (a key of `UNITS`): ``"MiB"``, ``"ms"``, ``"TFLOPs"``.
    rounding:
        what the printed number stands for: ``"digit"`` (default: ± half a unit in its last
        printed place), ``"sig:n"`` (± half a unit of its n-th significant figure, for "≈"
        figures), ``"exact"``.
    cause:
        why the document's value is wrong; required exactly when the claim does not hold.
    kind:
        a key of `KINDS`: ``error``, ``rounding``, ``label``, ``approximation``, ``ambiguity``.
    note:
        a remark printed with the claim whether or not it holds.
    as_printed:
        the figure or formula as the document typesets it (plain text or LaTeX), when that is
        not ``printed`` itself: a formula's source, a number spelled in words. The seed-document
        tests look for it (or for ``printed``) in the section ``where`` names.
    """

    label: str
    where: str
    about: str
    printed: Any
    value: Any
    unit: str = ""
    rounding: str = "digit"
    cause: str = ""
    kind: str = "error"
    note: str = ""
    as_printed: str = ""

    def __post_init__(self) -> None:
        for name in ("label", "where", "about", "cause", "note", "as_printed"):
            text = getattr(self, name)
            if not isinstance(text, str) or (name in ("label", "where", "about") and not text.strip()):
                raise ValueError(f"claim {self.label!r}: {name}={text!r} must be a non-empty string"
                                 if name in ("label", "where", "about") else
                                 f"claim {self.label!r}: {name}={text!r} must be a string")
        if self.unit not in UNITS:
            raise ValueError(f"{self.label}: unit={self.unit!r} is not allowed; choose one of {', '.join(UNITS)}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.label}: kind={self.kind!r} is not allowed; choose one of {', '.join(KINDS)}")
        if isinstance(self.value, str):          # a word claim: a word against a word, compared as text
            if not isinstance(self.printed, str):
                raise ValueError(f"claim {self.label!r}: value={self.value!r} is a word, so printed must be "
                                 f"a word too, not {type(self.printed).__name__}")
            return
        if isinstance(self.printed, str):        # a number as printed against an exact number
            _parse(self.printed)
            _tolerance(self.printed, self.rounding)
            value = _exact(self.value, f"claim {self.label!r}: value")
            if not (value.is_number and value.is_extended_real and value.is_finite):
                raise ValueError(f"{self.label}: value={self.value!r} must be a finite real number "
                                 f"for the printed number {self.printed!r}")
            object.__setattr__(self, "value", value)
            return
        # a formula against a formula: both built in code, never parsed from text
        object.__setattr__(self, "printed", _exact(self.printed, f"claim {self.label!r}: printed"))
        object.__setattr__(self, "value", _exact(self.value, f"claim {self.label!r}: value"))

    # ---- what kind of claim ----
    @property
    def is_word(self) -> bool:
        return isinstance(self.value, str)

    @property
    def is_number(self) -> bool:
        return isinstance(self.printed, str) and not self.is_word

    @property
    def is_formula(self) -> bool:
        return not self.is_number and not self.is_word

    # ---- the comparison ----
    @property
    def printed_value(self) -> sympy.Expr:
        """The document's number in its unit (or its formula)."""
        return _parse(self.printed) if self.is_number else self.printed

    @property
    def value_in_unit(self) -> sympy.Expr:
        """symroof's value in the document's unit, exact."""
        return self.value / UNITS[self.unit] if self.is_number else self.value

    @property
    def tolerance(self) -> sympy.Rational:
        return _tolerance(self.printed, self.rounding) if self.is_number else sympy.Integer(0)

    @cached_property
    def holds(self) -> bool:
        """True when symroof's value is what the document printed, within its rounding."""
        if self.is_word:
            return self.printed == self.value
        if self.is_formula:
            return _same(self.printed, self.value)
        return bool(abs(self.value_in_unit - self.printed_value) <= self.tolerance)

    @property
    def is_erratum(self) -> bool:
        return not self.holds

    # ---- printing ----
    @property
    def shown(self) -> str:
        """The document's value as it prints it, with the unit."""
        if self.is_word:
            return str(self.printed)
        if self.is_formula:
            return _text(self.printed)
        return f"{self.printed} {self.unit}".rstrip()

    @property
    def correct(self) -> str:
        """symroof's value in the document's unit (and exact in base units when that helps)."""
        if self.is_word:
            return str(self.value)
        if self.is_formula:
            return _text(self.value)
        exact_fraction = "/" in self.printed and self.value_in_unit.is_Rational
        in_unit = str(self.value_in_unit) if exact_fraction else format_number(self.value_in_unit)
        text = f"{in_unit} {self.unit}".rstrip()
        if self.unit in _SHOW_BASE and self.value.is_Integer:
            text += f" ({format_number(self.value)} {_SHOW_BASE[self.unit]})"
        return text

    def text_lines(self) -> list[str]:
        mark = "ok" if self.holds else "ERRATUM"
        lines = [f"[{mark}] {self.about}   [{self.where}]", f"      document: {self.shown}   symroof: {self.correct}"]
        if self.is_erratum:
            lines.append(f"      {KINDS[self.kind]}: {self.cause}")
        if self.note:
            lines.append(f"      note: {self.note}")
        return lines

    def latex(self) -> str:
        if self.is_formula:
            values = rf"document: ${to_latex(self.printed)}$; symroof: ${to_latex(self.value)}$"
        else:
            values = f"document: {_latex_text(self.shown)}; symroof: {_latex_text(self.correct)}"
        mark = r"\textsc{ok}" if self.holds else r"\textbf{erratum}"
        out = rf"\item[{mark}] {_latex_text(self.about)} (\emph{{{_latex_text(self.where)}}}) \\ {values}"
        if self.is_erratum:
            out += rf" \\ \emph{{{KINDS[self.kind]}:}} {_latex_text(self.cause)}"
        if self.note:
            out += rf" \\ \emph{{note:}} {_latex_text(self.note)}"
        return out


Block = Section | Remark | Formula | Worked | Table | Claim


# ---- the derivation --------------------------------------------------------------------------
@dataclass
class Derivation:
    """A document's argument rebuilt with symroof: an ordered list of blocks (built in place)."""

    title: str
    source: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Derivation:
        for block in blocks:
            if not isinstance(block, Block):
                raise ValueError(f"cannot add {type(block).__name__} to a derivation")
            self.blocks.append(block)
        return self

    def section(self, title: str, where: str = "") -> Derivation:
        """A new section; ``where`` (the document's heading) is the default for its claims."""
        return self.add(Section(title, where))

    def remark(self, text: str) -> Derivation:
        return self.add(Remark(text))

    def formula(self, name: str, expr: Any, note: str = "", latex_name: str = "") -> Derivation:
        return self.add(Formula(name, expr, note, latex_name))

    def worked(self, name: str, text: str, note: str = "") -> Derivation:
        return self.add(Worked(name, text, note))

    def table(self, caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Derivation:
        return self.add(Table(caption, tuple(headers), tuple(tuple(r) for r in rows)))

    def claim(self, label: str, about: str, printed: Any, value: Any, *, where: str = "",
              **options: Any) -> Claim:
        """Add a `Claim`; ``where`` defaults to the heading of the current section."""
        if not where:
            where = next((b.where for b in reversed(self.blocks) if isinstance(b, Section) and b.where), "")
        claim = Claim(label, where, about, printed, value, **options)
        self.add(claim)
        return claim

    @property
    def claims(self) -> list[Claim]:
        return [b for b in self.blocks if isinstance(b, Claim)]

    @property
    def errata(self) -> list[Claim]:
        return [c for c in self.claims if c.is_erratum]

    def __getitem__(self, label: str) -> Claim:
        for claim in self.claims:
            if claim.label == label:
                return claim
        raise KeyError(f"no claim {label!r} in {self.title!r}")

    def problems(self) -> list[str]:
        """Claims whose status disagrees with their ``cause``, and repeated labels."""
        out, seen = [], set()
        for c in self.claims:
            if c.label in seen:
                out.append(f"{c.label}: label used twice")
            seen.add(c.label)
            if c.holds and c.cause:
                out.append(f"{c.label}: holds (document {c.shown}, symroof {c.correct}) but names a cause")
            if not c.holds and not c.cause:
                out.append(f"{c.label}: document {c.shown} but symroof {c.correct}, and no cause is given")
        return out

    # ---- rendering ----
    def text(self) -> str:
        rule = "=" * len(self.title)
        out = [self.title, rule, f"source: {self.source}", ""]
        for block in self.blocks:
            if isinstance(block, Section):
                out += ["", block.title, "-" * len(block.title)]
            elif isinstance(block, Remark):
                out.append(block.text)
            elif isinstance(block, Formula):
                out.append("  " + block.text())
            elif isinstance(block, Worked):
                out.append("  " + block.line())
            elif isinstance(block, Table):
                out += _text_table(block)
            else:
                out += ["  " + line for line in block.text_lines()]
        n, e = len(self.claims), len(self.errata)
        out += ["", f"{n} claims checked: {n - e} hold, {e} errata."]
        return "\n".join(out) + "\n"

    def latex(self) -> str:
        out = [r"\documentclass{article}", r"\usepackage[utf8]{inputenc}", r"\usepackage{amsmath,amssymb}",
               r"\usepackage[margin=2cm]{geometry}", r"\sloppy",
               r"\begin{document}", rf"\section*{{{_latex_text(self.title)}}}",
               rf"Source: \texttt{{{_latex_text(self.source)}}}."]
        items_open = False
        for block in self.blocks:
            is_item = isinstance(block, Claim)
            if items_open and not is_item:
                out.append(r"\end{description}")
                items_open = False
            if isinstance(block, Section):
                out.append(rf"\subsection*{{{_latex_text(block.title)}}}")
            elif isinstance(block, Remark):
                out.append(_latex_text(block.text) + "\n")
            elif isinstance(block, Formula | Worked):
                out.append(block.latex())
            elif isinstance(block, Table):
                out += _latex_table(block)
            else:
                if not items_open:
                    out.append(r"\begin{description}")
                    items_open = True
                out.append(block.latex())
        if items_open:
            out.append(r"\end{description}")
        n, e = len(self.claims), len(self.errata)
        out += [rf"\paragraph{{Summary.}} {n} claims checked: {n - e} hold, {e} errata.", r"\end{document}"]
        return "\n".join(out) + "\n"


def _text_table(table: Table) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in table.rows)) for i, h in enumerate(table.headers)]
    line = lambda cells: "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
    return ["", f"  {table.caption}", line(table.headers), "  " + "  ".join("-" * w for w in widths),
            *map(line, table.rows), ""]


def _latex_table(table: Table) -> list[str]:
    cols = "r" * len(table.headers)
    row = lambda cells: " & ".join(map(_latex_text, cells)) + r" \\"
    return [r"\begin{center}\small", rf"\textit{{{_latex_text(table.caption)}}}\\[2pt]",
            rf"\begin{{tabular}}{{{cols}}}", r"\hline", row(table.headers), r"\hline", *map(row, table.rows),
            r"\hline", r"\end{tabular}", r"\end{center}"]


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "·": r"$\cdot$", "×": r"$\times$", "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$",
                   "µ": r"$\mu$", "→": r"$\to$", "≠": r"$\ne$", "²": r"$^2$", "−": "-", "÷": r"$\div$",
                   "<": r"$<$", ">": r"$>$", "∈": r"$\in$", "≪": r"$\ll$", "≫": r"$\gg$", "∞": r"$\infty$",
                   "π": r"$\pi$", "β": r"$\beta$", "±": r"$\pm$", "⁻": r"$^-$", "¹": r"$^1$", "³": r"$^3$",
                   "–": "--", "—": "---", "’": "'", "“": "``", "”": "''"}


def _latex_text(text: str) -> str:
    """Plain text made safe for LaTeX (specials escaped, math symbols set in math mode)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


# ---- errata across documents -----------------------------------------------------------------
def errata_markdown(derivations: Sequence[Derivation], *, generator: str = "") -> str:
    """A Markdown list of every erratum, one table per document, with the correct values."""
    out = ["# Errata of the seed documents", ""]
    if generator:
        out += [f"Generated by `{generator}` from the derivation scripts; do not edit by hand.", ""]
    total = sum(len(d.errata) for d in derivations)
    out += [f"{total} errata in {sum(len(d.claims) for d in derivations)} checked claims. *section* is the "
            "document's heading the figure stands under; *document* is the value "
            "as the document prints it; *correct* is symroof's exact value in the same unit; *kind* says what "
            "sort of mistake it is (a wrong value, a rounding, a mislabelled quantity, an approximation, "
            "ambiguous wording).", ""]
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for d in derivations:
        out += [f"## {d.title}", "", f"Source: `{d.source}`. {len(d.claims)} claims checked, "
                f"{len(d.errata)} errata.", ""]
        if not d.errata:
            out += ["No errata.", ""]
            continue
        out += ["| claim | section | document | correct | kind | cause |", "|---|---|---|---|---|---|"]
        for c in d.errata:
            out.append(f"| {cell(c.about)} | {cell(c.where)} | {cell(c.shown)} | {cell(c.correct)} | {KINDS[c.kind]} "
                       f"| {cell(c.cause)} |")
        out.append("")
    return "\n".join(out)


# ---- command line shared by the scripts ------------------------------------------------------
def run(build: Callable[[], Derivation], argv: Sequence[str] | None = None, *,
        description: str = "", extra: Callable[[argparse.ArgumentParser], None] | None = None,
        after: Callable[[argparse.Namespace, Derivation], None] | None = None) -> int:
    """The command line of a derivation script: text (default), ``--latex``, ``--errata``.

    Exit status 0 when every claim is consistent (holds, or is an erratum with its cause);
    1 with one line per problem otherwise.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--latex", action="store_true", help="print a LaTeX document instead of text")
    parser.add_argument("--errata", action="store_true", help="print only the errata")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    derivation = build()
    if args.errata:
        sys.stdout.write(errata_markdown([derivation]))
    else:
        sys.stdout.write(derivation.latex() if args.latex else derivation.text())
    if after is not None:
        after(args, derivation)
    problems = derivation.problems()
    for problem in problems:
        print(f"inconsistent claim: {problem}", file=sys.stderr)
    return 1 if problems else 0
