"""Values a mutation run of the output and request code (benchmarks/mutation.py on symroof/output/latex.py,
symroof/output/cli.py, symroof/cost/request.py, symroof/analysis/request.py) found unasserted.

Every expected value is derived by hand in the test (the formatting rule, the formula and its arithmetic
in a comment or docstring), or comes from a plain loop over the steps; none is symroof's own output
pasted back.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import sympy

import symroof
from symroof import symbols as sym
from symroof.cost import Cost
from symroof.cost.conventions import get
from symroof.output import latex
from symroof.symbols import B, H, N, S, S_c, V

# A machine with round numbers: 10^15 FLOP/s over 10^12 byte/s, a balance of 1000 FLOPs per byte.
TOY = symroof.Hardware(name="Toy", peak_flops_per_s={"bf16": 10**15}, bandwidth_bytes_per_s=10**12, source="hand")

ALIGN_OPEN, ALIGN_CLOSE = "\\begin{align*}\n", "\n\\end{align*}\n"


def align(*lines):
    """An align* block as `_align` writes it: rows joined by `` \\\\`` and a line break."""
    return ALIGN_OPEN + " \\\\\n".join(lines) + ALIGN_CLOSE


# ---- latex: the small formatting rules -------------------------------------------------------------------------


def test_sci_writes_four_significant_digits_and_no_power_for_exponent_zero():
    """`_sci`: the mantissa to 4 significant digits, `` \\times 10^{e}`` unless e = 0, the unit in \\text."""
    assert latex._sci(5) == "5.000"                                     # 5 = 5.000·10^0: no power
    assert latex._sci(0.5) == r"5.000 \times 10^{-1}"                    # e = -1 keeps its power
    assert latex._sci(1.48e13, "FLOP") == r"1.480 \times 10^{13}~\text{FLOP}"


def test_number_is_exact_and_approximated_when_not_an_integer():
    assert latex._number(sympy.Integer(1000)) == "1000"
    assert latex._number(sympy.Rational(1001, 2)) == r"\frac{1001}{2} \approx 500.5"


def test_align_joins_the_parts_of_a_sum_while_they_fit():
    """A tuple formula is printed part by part: a part's first line joins the line before it with `` + ``
    when the joined line has at most ``max_chars`` characters. ``H`` then ``S``: ``H + S`` is 1 + 3 + 1 = 5
    characters, so it joins at 5 and not at 4 (then the part opens a row ``+ S``)."""
    assert latex._align([("X", (H, S))], 5) == align("X &= H + S")
    assert latex._align([("X", (H, S))], 4) == align("X &= H", r"&\quad + S")
    # b_{kv} is 6 characters: b_{kv} + S is 6 + 3 + 1 = 10
    assert latex._align([("X", (sym.b_kv, S))], 10) == align("X &= b_{kv} + S")
    assert latex._align([("X", (sym.b_kv, S))], 9) == align("X &= b_{kv}", r"&\quad + S")


def test_align_joins_a_part_to_the_last_row_of_the_part_before():
    """Max 12 characters. P1 = 1111 H^3 + 1111 H^2 + H prints as ``1111 H^{3}`` (10), ``+ 1111 H^{2}`` (12),
    ``+ H`` (3): no two fit on one row (10 + 1 + 12 > 12, 12 + 1 + 3 > 12), three rows. P2 = S + 1111 S^2
    (ascending in S) is ``S`` (1) and ``+ 1111 S^{2}`` (12): two rows. P2's first row joins P1's last,
    ``+ H + S`` (3 + 3 + 1 = 7 ≤ 12); its second row stays a row of its own."""
    p1, p2 = 1111 * H**3 + 1111 * H**2 + H, S + 1111 * S**2
    assert latex._align([("X", (p1, p2))], 12) == align(
        "X &= 1111 H^{3}", r"&\quad + 1111 H^{2}", r"&\quad + H + S", r"&\quad + 1111 S^{2}")


def test_ratio_in_full_when_both_sides_fit_else_by_name():
    """3B/(1 + B): the numerator ``3 B`` is 3 characters, the denominator ``1 + B`` 5. At 5 both fit; at 4
    the denominator does not, so the ratio is written with names and each side below, the denominator
    broken at its + sign (``1``, then ``+ B``: 1 + 1 + 3 = 5 > 4)."""
    assert latex._ratio("L", 3 * B, 1 + B, 5) == align(r"L &= \frac{3 B}{1 + B}")
    assert latex._ratio("L", 3 * B, 1 + B, 4) == (
        align(r"L &= \frac{\text{numerator}}{\text{denominator}}") + "where\n"
        + align(r"\text{numerator} &= 3 B", r"\text{denominator} &= 1", r"&\quad + B"))


def test_intensity_block_writes_the_ratio_only_when_it_fits():
    cost = Cost(flops={"ffn/up": 3 * B}, bytes={"weights": 1, "activations": B})
    head = r"\text{Arithmetic Intensity} &= \frac{\text{FLOPs}_\text{total}}{\text{Bytes}_\text{total}}"
    assert latex._intensity_block(cost, 5) == align(head, r" &= \frac{3 B}{1 + B}")   # 1 + B: 5 characters
    assert latex._intensity_block(cost, 4) == align(head)


def test_per_layer_share_needs_two_layers_or_more_and_whole_coefficients():
    assert latex._per_layer(6 * H, sympy.Integer(2)) == 3 * H
    assert latex._per_layer(sympy.Integer(6), sympy.Integer(3)) == 2
    assert latex._per_layer(6 * H, sympy.Integer(1)) is None        # one layer: nothing to factor out
    assert latex._per_layer(3 * H + 1, sympy.Integer(2)) is None    # 3/2 H + 1/2: not whole


def test_terms_rows_factor_the_layers_and_keep_the_whole_model_terms():
    """Two layers: attention/q 4BH² and ffn/up 8BH² are N·2BH² and N·4BH²; lm_head 2BHV is once per
    model. The total is lm_head's term and N times the layers' share, (12BH²)/2 = 6BH²."""
    cost = Cost(flops={"attention/q": 4 * B * H**2, "ffn/up": 8 * B * H**2, "lm_head": 2 * B * H * V})
    rows = latex._terms_rows(cost, "FLOPs", None, sympy.Integer(2))
    assert rows == [(r"\text{FLOPs}_\text{attention/q}", 2 * N * B * H**2),
                    (r"\text{FLOPs}_\text{ffn/up}", 4 * N * B * H**2),
                    (r"\text{FLOPs}_\text{lm\_head}", 2 * B * H * V),
                    (r"\text{FLOPs}_\text{total}", (2 * B * H * V, 6 * N * B * H**2))]
    # every term is a layer's: the total is N·6BH² alone (no whole-model part before it)
    layers_only = Cost(flops={"attention/q": 4 * B * H**2, "ffn/up": 8 * B * H**2})
    assert latex._terms_rows(layers_only, "FLOPs", None, sympy.Integer(2))[-1] == (
        r"\text{FLOPs}_\text{total}", 6 * N * B * H**2)


# ---- latex: the crossover and numbers sections, for costs written by hand ------------------------------------

BALANCE_TOY = ("The step is compute-bound where its intensity reaches the machine balance $\\pi/\\beta$:\n"
               + align(r"\text{balance of Toy} &= 1000"))
LIMIT = r"\lim_{B \to \infty} \text{Arithmetic Intensity}"


def test_crossover_section_numeric_compute_above():
    """I = 3000B/(1001 + B) against 1000: 3000B = 1000(1001 + B) gives B* = 1001000/2000 = 1001/2 = 500.5;
    I(1) = 3000/1002 < 1000, so memory-bound below and compute-bound from B = ⌈500.5⌉ = 501."""
    cost = Cost(flops={"ffn/up": 3000 * B}, bytes={"weights": 1001, "activations": B})
    assert latex._crossover_section(cost, TOY, {}, 90) == (
        "\\subsection*{Crossover batch}\n" + BALANCE_TOY + align(r"B^{*} &= \frac{1001}{2} \approx 500.5")
        + "The step is memory-bound for $B < B^{*}$ and compute-bound beyond; the smallest compute-bound batch "
          "is $B = 501$.\n")


def test_crossover_section_numeric_memory_above():
    """I = (500B + 3·10^6)/(1 + B): I(1) = 1.5·10^6 > 1000, limit 500 < 1000. 500B + 3·10^6 = 1000 + 1000B
    gives B* = 2999000/500 = 5998: compute-bound below, memory-bound beyond."""
    cost = Cost(flops={"ffn/up": 500 * B + 3 * 10**6}, bytes={"weights": 1, "activations": B})
    assert latex._crossover_section(cost, TOY, {}, 90) == (
        "\\subsection*{Crossover batch}\n" + BALANCE_TOY + align(r"B^{*} &= 5998")
        + "The step is compute-bound for $B < B^{*}$ and memory-bound beyond; the smallest memory-bound batch "
          "is $B = 5998$.\n")


def test_crossover_section_solves_at_the_given_values_but_b():
    """Values name B (the unknown: left out), S_c (in the cost: used) and S (not in the cost: left out).
    Bytes 1001 + B + S_c at S_c = 5: 3000B = 1000(1006 + B), B* = 1006000/2000 = 503."""
    cost = Cost(flops={"ffn/up": 3000 * B}, bytes={"weights": 1001, "activations": B, "kv/read": S_c})
    assert latex._crossover_section(cost, TOY, {"B": 8, "S_c": 5, "S": 3}, 90) == (
        "\\subsection*{Crossover batch at $S_c = 5$}\n" + BALANCE_TOY + align(r"B^{*} &= 503")
        + "The step is memory-bound for $B < B^{*}$ and compute-bound beyond; the smallest compute-bound batch "
          "is $B = 503$.\n")


def test_crossover_section_against_the_symbolic_balance():
    """π/β: 3000B = (π/β)(1001 + B) gives B* = 1001π/(3000β − π), a crossover (into compute) when the
    limit 3000 exceeds π/β."""
    cost = Cost(flops={"ffn/up": 3000 * B}, bytes={"weights": 1001, "activations": B})
    assert latex._crossover_section(cost, None, {}, 90) == (
        "\\subsection*{Crossover batch}\n"
        "The step is compute-bound where its intensity reaches the machine balance $\\pi/\\beta$:\n"
        + align(r"\text{balance} &= \frac{\pi}{\beta}")
        + align(r"B^{*} &= \frac{1001 \pi}{3000 \beta - \pi}")
        + align(LIMIT + " &= 3000")
        + "It is a crossover when the limit of the intensity as $B$ grows exceeds the balance (otherwise the "
          "step stays memory-bound).\n")


def test_crossover_section_without_a_closed_form():
    """Bytes 1001 + B³ against π/β: (intensity − balance)·bytes has degree 3 in B, no closed form."""
    cost = Cost(flops={"ffn/up": 3000 * B}, bytes={"weights": 1001, "activations": B**3})
    assert latex._crossover_section(cost, None, {}, 90) == (
        "\\subsection*{Crossover batch}\n"
        "The step is compute-bound where its intensity reaches the machine balance $\\pi/\\beta$:\n"
        + align(r"\text{balance} &= \frac{\pi}{\beta}")
        + "No closed form: no closed form for the crossover in B: intensity - balance has degree 3 in B; "
          "substitute numbers for ['beta', 'pi'].\n")


def test_crossover_section_without_a_crossover():
    """Limit 500 ≤ 1000 (I = 500B/(1 + B) < 500 always): memory-bound everywhere. 5000B/(1 + B) is 2500 ≥ 1000
    already at B = 1 and rises to 5000: compute-bound everywhere."""
    low = Cost(flops={"ffn/up": 500 * B}, bytes={"weights": 1, "activations": B})
    assert latex._crossover_section(low, TOY, {}, 90) == (
        "\\subsection*{Crossover batch}\n" + BALANCE_TOY + align(LIMIT + " &= 500")
        + "No crossover: the step is memory-bound for every batch, since its intensity stays below the balance "
          "however large $B$ grows.\n")
    high = Cost(flops={"ffn/up": 5000 * B}, bytes={"weights": 1, "activations": B})
    assert latex._crossover_section(high, TOY, {}, 90) == (
        "\\subsection*{Crossover batch}\n" + BALANCE_TOY + align(LIMIT + " &= 5000")
        + "No crossover: the step is compute-bound already at $B = 1$, and for every larger batch.\n")


def test_numbers_section_with_numbers():
    """B = 1000: FLOPs 3000·1000 = 3·10^6, bytes 1001 + 1000 = 2001, intensity 3·10^6/2001 = 1499.25;
    on Toy the compute time is 3·10^6/10^15 s = 3·10^-6 ms, the memory time 2001/10^12 s = 2.001·10^-6 ms:
    compute-bound. S_c is given but not in the cost: not listed."""
    cost = Cost(flops={"ffn/up": 3000 * B}, bytes={"weights": 1001, "activations": B})
    assert latex._numbers_section(cost, TOY, {"B": 1000, "S_c": 5}, "decode") == (
        "\\subsection*{At $B = 1000$}\n\\begin{tabular}{ll}\n"
        "FLOPs & $3.000 \\times 10^{6}$ FLOP \\\\\n"
        "bytes & $2.001 \\times 10^{3}$ byte \\\\\n"
        "arithmetic intensity & $1499$ FLOP/byte \\\\\n"
        "compute time $\\text{FLOPs}/\\pi$ & 3e-06 ms \\\\\n"
        "memory time $\\text{Bytes}/\\beta$ & 2.001e-06 ms \\\\\n"
        "bound on Toy & compute \\\\\n"
        "\\end{tabular}\n")
    assert latex._numbers_section(cost, TOY, {"S_c": 5}, "decode") == ""      # nothing the cost has


def test_numbers_section_with_symbols_left_breaks_at_100_characters():
    """Symbols left after B = 1: the totals as formulas, rows of at most 100 characters. The FLOPs
    1111 H^9 + ... + 1111 H^3 + 111 H^2 print as ``1111 H^{9}`` (10 characters), six ``+ 1111 H^{k}`` (12)
    and ``+ 111 H^{2}`` (11): 10 + 6·13 + 12 = 100 characters, one row. The bytes have 1111 H^2 instead, 101
    characters: the last term goes to a row of its own."""
    flops = sum(1111 * H**k for k in range(3, 10)) + 111 * H**2
    moved = sum(1111 * H**k for k in range(2, 10))
    cost = Cost(flops={"ffn/up": B * flops}, bytes={"weights": B * moved})
    seven = " + ".join(f"1111 H^{{{k}}}" for k in range(9, 2, -1))
    assert len(seven + r" + 111 H^{2}") == 100
    assert latex._numbers_section(cost, None, {"B": 1}, "decode") == (
        "\\subsection*{At $B = 1$}\n"
        + align(r"\text{FLOPs}_\text{total} &= " + seven + r" + 111 H^{2}",
                r"\text{Bytes}_\text{total} &= " + seven, r"&\quad + 1111 H^{2}"))


# ---- latex: the document's tables --------------------------------------------------------------------------


def test_hardware_section():
    """Toy: 10^15 FLOP/s and 10^12 byte/s to four digits, balance 10^15/10^12 = 1000 exactly."""
    assert latex._hardware_section(TOY) == (
        "\\section*{Hardware: Toy}\n\\begin{tabular}{ll}\n"
        "peak $\\pi$ (bf16) & $1.000 \\times 10^{15}$ FLOP/s \\\\\n"
        "bandwidth $\\beta$ & $1.000 \\times 10^{12}$ byte/s \\\\\n"
        "balance $\\pi/\\beta$ & $1000$ FLOP/byte \\\\\n"
        "\\end{tabular}\n\n{\\raggedright Source: hand.\\par}\n")


def test_notation_gives_the_gpus_peak_to_pi_and_its_bandwidth_to_beta():
    assert latex._notation({B, sym.pi, sym.beta}, TOY, set()) == (
        "\\section*{Notation}\n\\begin{tabular}{ll}\n"
        "$B$ & batch size (sequences) \\\\\n"
        "$\\pi$ & peak FLOP/s ($1.000 \\times 10^{15}$ on Toy) \\\\\n"
        "$\\beta$ & memory bandwidth (bytes/s) ($1.000 \\times 10^{12}$ on Toy) \\\\\n"
        "\\end{tabular}\n")


TINY = symroof.Arch(hidden=64, layers=2, heads=4, kv_heads=2, ffn_dim=128, vocab=100, name="tiny")


def environments(tex):
    """Check that every \\begin{x} is closed by its \\end{x}, in order; return the environments opened."""
    stack, opened = [], []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(name)
            opened.append(name)
        else:
            assert stack and stack.pop() == name, name
    assert not stack
    return opened


@pytest.mark.parametrize("make", [
    lambda: latex.document(TINY, "exact", TOY, B=8, S_c=16),
    lambda: latex.document(TINY, "exact", phases=("decode",)),
    lambda: latex.document(symroof.Arch.symbolic(), "arithmetic-intensity", "A100-80GB"),
], ids=["tiny on Toy", "tiny without a GPU", "symbolic"])
def test_document_environments_are_balanced(make):
    opened = environments(make())
    assert opened[0] == "document" and "tabular" in opened and "align*" in opened


def test_document_of_two_layers_defines_n_and_only_the_symbols_it_uses():
    """A numeric two-layer model's decode depends on B and S_c only; its layer terms print as N (...),
    and π, β are always defined: the notation lists exactly B, S_c, N, π, β."""
    tex = latex.document(TINY, "exact", phases=("decode",))
    table = tex.split("\\section*{Notation}\n\\begin{tabular}{ll}\n")[1].split("\n\\end{tabular}")[0]
    assert [row.split(" & ")[0] for row in table.split("\n")] == ["$B$", "$S_c$", "$N$", r"$\pi$", r"$\beta$"]


def test_document_bytes_subsection_has_its_rows():
    tex = latex.document(TINY, "exact", phases=("decode",))
    assert "\\subsection*{Bytes}\n\\begin{align*}\n\\text{Bytes}_\\text{weights" in tex


def test_document_lists_the_conventions_that_apply_to_a_dense_model():
    """A dense model with standard attention: every field of the conventions but the MLA, MoE and
    communication ones (a document has no tensor parallelism)."""
    conv = get("exact")
    tex = latex.document(TINY, conv, phases=("decode",))
    table = tex.split("\\section*{Conventions}\n\\begin{tabular}{ll}\n")[1].split("\n\\end{tabular}")[0]
    skip = {"name", "mla", "mla_prefill", "experts_read", "expert_parallel", "comms"}
    fields = [f.name for f in dataclasses.fields(conv) if f.name not in skip]
    assert len(fields) > 5
    assert table.split("\n") == [f"{latex.escape(f)} & \\texttt{{{latex.escape(getattr(conv, f))}}} \\\\"
                                 for f in fields]


def test_document_rows_default_to_90_characters():
    """The documented default width is 90 (``document(..., max_chars=90)``). The symbolic model's exact
    document has a sum that breaks differently at 91, so the default must give the 90-character document."""
    arch = symroof.Arch.symbolic()
    assert latex.document(arch, "exact") == latex.document(arch, "exact", max_chars=90)
    assert latex.document(arch, "exact") != latex.document(arch, "exact", max_chars=91)
    # and its decode under matmul has a 90-character denominator of B*, which breaks at 89
    decode = {"phases": ("decode",)}
    assert latex.document(arch, "matmul", **decode) == latex.document(arch, "matmul", max_chars=90, **decode)
    assert latex.document(arch, "matmul", **decode) != latex.document(arch, "matmul", max_chars=89, **decode)


# ---- cli: numbers in text, by the rules of the docstrings ------------------------------------------------------

from symroof.output import cli  # noqa: E402


@pytest.mark.parametrize("value,text", [
    (sympy.Integer(999999), "999999"),           # an integer below 10^6: whole
    (sympy.Integer(10**6), "1.000e+06"),         # 10^6 and beyond: 4 significant digits, exponent
    (12345678, "1.235e+07"),
    (857.3, "857.3"), (0.96, "0.96"),            # positional, trailing zeros dropped (0.9600 -> 0.96)
    (1234.6, "1235"), (-0.5, "-0.5"), (0.001, "0.001"),
    (0.0001234, "1.234e-04"),                    # below 10^-3: exponent
    (0.0, "0"),
    ("1.5e+400", "1.5e+400 (beyond float range)"),
])
def test_round_is_the_one_rounding_rule(value, text):
    assert cli._round(value) == text


@pytest.mark.parametrize("value,text", [
    (2.5, "2.5 s"), (1, "1 s"), (0.0025, "2.5 ms"), (1e-3, "1 ms"), (2.5e-6, "2.5 µs"), (2.5e-9, "2.5 ns"),
    ("1.5e+400", "1.5e+400 s (beyond float range)"),
])
def test_seconds_pick_the_largest_unit_at_most_the_value(value, text):
    assert cli._seconds(value) == text


@pytest.mark.parametrize("value,unit,text", [
    (16.49e12, "FLOP", "16.49 TFLOP"), (999, "B", "999 B"), (1000, "B", "1 kB"), (10**18, "B", "1 EB"),
    ("3/2", "B", "1.5 B"), (-2000, "B", "-2 kB"),
    (sympy.Integer(10**400), "B", "1e+400 B (beyond float range)"),
    (sympy.Integer(10**400), "", "1e+400 (beyond float range)"),
])
def test_si_prefixes(value, unit, text):
    assert cli._si(value, unit) == text


@pytest.mark.parametrize("value,digits,expected", [
    (sympy.Integer(10**400), 4, ("1", 400)),
    (sympy.Integer(12346 * 10**400), 4, ("1.235", 404)),      # 1.2346 to 4 digits
    (sympy.Integer(99996 * 10**400), 4, ("1", 405)),          # 9.9996 rounds up to 10: 1·10^405
    (-3 * sympy.Integer(10)**400, 4, ("-3", 400)),
    (sympy.Rational(1, 10**400), 4, ("1", -400)),
    (sympy.Integer(0), 4, ("0", 0)),
])
def test_sci_beyond_float_range_is_exact(value, digits, expected):
    assert cli._sci(value, digits) == expected


def test_sig_beyond_float_range():
    assert cli._sig(sympy.Rational(1, 10**400), 4) == "1e-400"      # float gives 0.0: not the value
    assert cli._sig(sympy.Integer(0), 4) == "0"
    assert cli._sig(sympy.Rational(3, 2), 4) == "1.5"


@pytest.mark.parametrize("value,text", [
    (8030261248, "8,030,261,248 (8.03 B)"), (999, "999"), (1000, "1,000 (1 k)"),
    (10**12, "1,000,000,000,000 (1 T)"), (2_500_000, "2,500,000 (2.5 M)"),
])
def test_count_text(value, text):
    assert cli._count_text(sympy.Integer(value)) == text


# ---- cost/request: range_sum against plain loops -------------------------------------------------------------

from symroof.cost import request as cost_request  # noqa: E402
from symroof.symbols import S_g  # noqa: E402

X = sympy.Symbol("x", integer=True)


def loop(f, lo, hi):
    """Σ_{x=lo}^{hi} f(x), one term at a time."""
    return sum((f(k) for k in range(lo, hi + 1)), sympy.Integer(0))


def test_range_sum_empty_constant_and_bad_range():
    assert cost_request.range_sum(X**2, X, 5, 4) == 0                      # hi = lo − 1: no term
    assert cost_request.range_sum(7, X, 1, 10) == 70                        # ten terms of 7
    assert sympy.expand(cost_request.range_sum(7, X, S, S + S_g - 1)) == 7 * S_g
    with pytest.raises(ValueError) as err:
        cost_request.range_sum(X, X, 5, 3)
    assert str(err.value) == "range_sum: hi=3 must be at least lo - 1 = 4"


def test_range_sum_of_a_polynomial_is_faulhaber():
    """Σ_{x=1}^{n} x² = n(n + 1)(2n + 1)/6 and Σ_{x=1}^{n} x³ = (n(n + 1)/2)²."""
    n = sympy.Symbol("n", integer=True, positive=True)
    assert sympy.expand(cost_request.range_sum(X**2, X, 1, n) - n * (n + 1) * (2 * n + 1) / 6) == 0
    assert sympy.expand(cost_request.range_sum(X**3, X, 1, n) - (n * (n + 1) / 2) ** 2) == 0
    assert cost_request.range_sum(X**2 + 3 * X, X, -2, 4) == loop(lambda k: k**2 + 3 * k, -2, 4)


@pytest.mark.parametrize("make,f", [
    (lambda: sympy.Min(10 - X, 3), lambda k: min(10 - k, 3)),             # falling slope: the other side
    (lambda: sympy.Max(10 - X, 3), lambda k: max(10 - k, 3)),
    (lambda: sympy.Min(2 * X + 1, 9), lambda k: min(2 * k + 1, 9)),        # crossing between integers
    (lambda: sympy.Max(2 * X + 1, 9), lambda k: max(2 * k + 1, 9)),
    (lambda: sympy.Min(X + 2, X + 5), lambda k: k + 2),                    # parallel: one side everywhere
    (lambda: sympy.Max(X + 2, X + 5), lambda k: k + 5),
    (lambda: sympy.Min(X + 5, X + 2), lambda k: k + 2),
    (lambda: sympy.Max(X + 5, X + 2), lambda k: k + 5),
    (lambda: X * sympy.Min(X, 4), lambda k: k * min(k, 4)),
    (lambda: sympy.Max(3 * X - 10, sympy.Min(X + 1, 6)), lambda k: max(3 * k - 10, min(k + 1, 6))),   # nested
    (lambda: sympy.Min(sympy.Max(X, 3), 7), lambda k: min(max(k, 3), 7)),
    (lambda: sympy.Max(sympy.Min(X, 7), 3) + sympy.Min(X, 2), lambda k: max(min(k, 7), 3) + min(k, 2)),
], ids=["min-falling", "max-falling", "min-odd", "max-odd", "min-parallel", "max-parallel",
        "min-parallel-2", "max-parallel-2", "product", "nested", "clamp", "clamp-plus"])
def test_range_sum_of_min_and_max_equals_the_loop(make, f):
    expr = make()
    closed = cost_request.range_sum(expr, X, S, S + S_g - 1)
    for lo, count in [(-3, 20), (0, 1), (4, 3), (9, 6), (1, 0)]:
        assert cost_request.range_sum(expr, X, lo, lo + count - 1) == loop(f, lo, lo + count - 1), (lo, count)
    for lo in range(1, 10):                    # S and S_g are positive symbols: a prompt and at least one step
        for count in range(1, 10):
            assert closed.subs({S: lo, S_g: count}) == loop(f, lo, lo + count - 1), (lo, count)


def test_range_sum_with_a_slope_or_offset_of_unknown_sign():
    """Min(a·x, 5): a > 0, a < 0 and a = 0 each split differently; Min(x + c, x) is x + c for c ≤ 0, else x."""
    a, c = sympy.Symbol("a", integer=True), sympy.Symbol("c", integer=True)
    closed = cost_request.range_sum(sympy.Min(a * X, 5), X, 1, 10)
    for value in (2, -1, 0):
        assert closed.subs(a, value) == loop(lambda k, v=value: min(v * k, 5), 1, 10), value
    closed = cost_request.range_sum(sympy.Max(a * X, 5), X, 1, 10)
    for value in (2, -1, 0):
        assert closed.subs(a, value) == loop(lambda k, v=value: max(v * k, 5), 1, 10), value
    offset = cost_request.range_sum(sympy.Min(X + c, X), X, 1, 10)
    for value in (-2, 0, 3):
        assert offset.subs(c, value) == loop(lambda k, v=value: min(k + v, k), 1, 10), value
    offset = cost_request.range_sum(sympy.Max(X + c, X), X, 1, 10)
    for value in (-2, 0, 3):
        assert offset.subs(c, value) == loop(lambda k, v=value: max(k + v, k), 1, 10), value


def test_range_sum_without_a_closed_form():
    """x² against 10 is no linear crossing, Mod no polynomial: exact term by term with numbers only."""
    assert cost_request.range_sum(sympy.Min(X**2, 10), X, 1, 6) == loop(lambda k: min(k * k, 10), 1, 6)
    assert cost_request.range_sum(sympy.Mod(X, 3), X, 1, 7) == 1 + 2 + 0 + 1 + 2 + 0 + 1
    with pytest.raises(ValueError) as err:
        cost_request.range_sum(sympy.Mod(X, 3), X, 1, S)
    assert str(err.value) == ("no closed form for the sum over x of Mod(x, 3) (chunked attention's Mod, or a "
                              "non-linear bound): give numbers for the range")
    with pytest.raises(ValueError) as err:
        cost_request.range_sum(sympy.Mod(X, 3), X, 1, 200_001)
    assert str(err.value) == "a finite sum of 200001 terms over x is over the 200000-term limit"


def test_range_sum_finite_limit_is_inclusive(monkeypatch):
    """At most MAX_FINITE_TERMS terms: exactly that many is summed, one more refused."""
    monkeypatch.setattr(cost_request, "MAX_FINITE_TERMS", 5)
    assert cost_request.range_sum(sympy.Mod(X, 3), X, 1, 5) == 1 + 2 + 0 + 1 + 2
    with pytest.raises(ValueError, match="a finite sum of 6 terms over x is over the 5-term limit"):
        cost_request.range_sum(sympy.Mod(X, 3), X, 1, 6)


def test_mean_context_and_prefix_messages():
    assert cost_request.mean_context(10, 5) == sympy.Rational(25, 2)        # S + G/2
    llama = symroof.models.get("llama-3-8b")
    for prefix in (100, 101):
        with pytest.raises(ValueError) as err:
            cost_request.shared_prefix_prefill(llama, "exact", S=100, prefix=prefix, B=1)
        assert str(err.value) == f"prefix={prefix} must be shorter than S=100"
    with pytest.raises(ValueError) as err:
        cost_request.chunked_prefill(llama, "exact", S=100, chunk=30, B=1)
    assert str(err.value) == "chunk=30 must divide S=100"
    with pytest.raises(ValueError) as err:
        cost_request.request(llama, "exact", S=8, G=2, B=1, chunk=2, prefix=1)
    assert str(err.value) == "give chunk or prefix, not both"


# ---- cli: every typed option refuses a bad value with one line naming it ---------------------------------------
# argparse's rule: "argument <the option's strings joined by '/'>: <the type's message>"; the messages are the
# ones the option types state (_text: empty; _count: whole, positive or non-negative; _number: positive
# decimal; _fraction_option: in (0, 1]; _setting: FIELD=VALUE).

MODEL_OPTIONS = [
    *[(opt, "", "'' is empty; give a name") for opt in (
        "-m/--model", "--hf-config", "--family", "-g/--gpu", "--hardware-file", "--dtype", "--weights-dtype",
        "--act-dtype", "--kv-dtype", "--compute-dtype", "--conventions", "--conventions-file")],
    *[(opt, bad, msg) for opt in ("--peak-tflops", "--bandwidth-gbs", "--memory-gib", "--interconnect-gbs")
      for bad, msg in (("0", "'0' must be positive"), ("x", "'x' is not a number"), ("1/0", "'1/0' is not a number"))],
    *[(opt, bad, msg) for opt in ("--usable-fraction", "--flops-efficiency", "--bandwidth-efficiency")
      for bad, msg in (("1.5", "'1.5' must be a fraction in (0, 1]"), ("-1", "'-1' must be positive"))],
    ("--set", "x", "'x' must be FIELD=VALUE (e.g. experts_read=all)"),
    ("--set", "=all", "'=all' must be FIELD=VALUE (e.g. experts_read=all)"),
]
SIZE_OPTIONS = [
    *[(opt, bad, msg) for opt in ("-b/--batch", "-s/--seq", "--new")
      for bad, msg in (("0", "'0' must be positive"), ("1.5", "'1.5' is not a whole number"))],
    ("--cached", "-1", "'-1' must be non-negative"), ("--cached", "x", "'x' is not a whole number"),
]
POSITIVE = lambda *opts: [(opt, "0", "'0' must be positive") for opt in opts]
BAD_OPTIONS = {
    "report": MODEL_OPTIONS + SIZE_OPTIONS + POSITIVE("--tp", "--prompt", "--gen"),
    "latex": MODEL_OPTIONS + SIZE_OPTIONS + POSITIVE("--prompt", "--gen"),
    "crossover": MODEL_OPTIONS + SIZE_OPTIONS + POSITIVE("--tp"),
    "plot": MODEL_OPTIONS + POSITIVE("--batch", "--seq", "--new", "--max-batch", "--tp") + [
        ("--cached", "-1", "'-1' must be non-negative"), ("-o/--out", "", "'' is empty; give a name"),
        ("--dpi", "0", "'0' must be positive"), ("--dpi", "x", "'x' is not a number")],
    "models": [("--hf-config", "", "'' is empty; give a name"), ("--family", "", "'' is empty; give a name")],
    "hardware": [("--hardware-file", "", "'' is empty; give a name")],
}
BAD_CASES = [(command, *case) for command, cases in BAD_OPTIONS.items() for case in cases]


@pytest.mark.parametrize("command,option,bad,message", BAD_CASES,
                         ids=[f"{c} {o.split('/')[-1]} {b!r}" for c, o, b, _ in BAD_CASES])
def test_a_bad_option_value_is_one_line_naming_it(capsys, command, option, bad, message):
    code = cli.main([command, option.split("/")[-1], bad])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"symroof: error: argument {option}: {message}\n")


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_line_is_one_safe_line_of_at_most_400_characters():
    assert cli._line("x" * 400) == "x" * 400
    assert cli._line("x" * 401) == "x" * 397 + "..."                 # 397 + 3 = 400
    assert cli._line("a\n  b\tc") == "a b c"                          # whitespace runs are one space
    assert cli._line("a\x1bb") == "a\\u001bb"                         # a control character shown escaped


def test_latex_of_a_step_with_numbers_is_000s_formula(capsys):
    """000 (jamesnulliu) writes a step's FLOPs as N (24 B S_i H^2 + 4 B S_i S_c H); at B = 2, S_i = 4, S_c = 8:
    24·2·4 = 192 and 4·2·4·8 = 256."""
    code, out, err = run_cli(capsys, "latex", "-m", "symbolic", "--conventions", "000", "--phase", "step",
                             "-b", "2", "--new", "4", "--cached", "8", "--only", "flops")
    assert (code, out, err) == (0, "N \\left(192 H^{2} + 256 H\\right)\n", "")


@pytest.mark.parametrize("command", ["report", "latex", "crossover"])
def test_help_names_the_sizes_as_the_readme_does(capsys, command):
    """README: ``-m/--model NAME``, ``--hf-config PATH``, the sizes ``-b/--batch B``, ``-s/--seq S``,
    ``--cached S_c``, ``--new S_i``, ``--conventions-file FILE.toml``, ``--hardware-file FILE.toml``, ``--tp T``."""
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    out = " ".join(out.split())
    for usage in ["-m NAME, --model NAME", "--hf-config PATH", "-b B, --batch B", "-s S, --seq S", "--cached S_c",
                  "--new S_i", "--conventions-file FILE.toml", "--hardware-file FILE.toml"]:
        assert usage in out, usage
    assert ("--tp T" in out) == (command != "latex")


A100_PEAKS = "bf16, fp16, tf32, fp32, int8"       # symroof/data/hardware.toml's A100-80GB row


@pytest.mark.parametrize("options,flag", [
    (["--dtype", "fp8"], "--dtype fp8"),
    (["--compute-dtype", "fp8"], "--compute-dtype fp8"),
    (["--weights-dtype", "fp8", "--act-dtype", "fp8"], "the compute dtype fp8"),     # the wider of the two
])
def test_a_compute_dtype_without_a_peak_names_the_option_that_chose_it(capsys, options, flag):
    code, out, err = run_cli(capsys, "crossover", "--gpu", "A100-80GB", *options)
    assert (code, out, err) == (2, "", f"symroof: error: {flag}: A100-80GB has no fp8 peak; it has {A100_PEAKS}\n")


def header(capsys, *options):
    code, out, err = run_cli(capsys, "crossover", "--json", *options)
    assert code == 0, err
    import json
    return json.loads(out)


def test_hardware_options_in_their_units(capsys):
    """--peak-tflops in 10^12 FLOP/s, --bandwidth-gbs in 10^9 byte/s, --memory-gib in 2^30 bytes:
    100 TFLOP/s over 50 GB/s is 10^14/(5·10^10) = 2000 FLOPs per byte; 10 GiB = 10737418240 bytes, half of
    it usable 5368709120."""
    h = header(capsys, "--gpu", "custom", "--peak-tflops", "100", "--bandwidth-gbs", "50", "--memory-gib", "10",
               "--usable-fraction", "1/2")
    assert (h["gpu"], h["dtype"], h["peak_flops_per_s"], h["bandwidth_bytes_per_s"], h["balance_exact"],
            h["capacity_bytes"], h["usable_bytes"]) == ("custom", "bf16", 10**14, 5 * 10**10, 2000,
                                                        10737418240, 5368709120)
    # efficiencies scale the roofs: 10^14/2 over 5·10^10/4 is 4000 FLOPs per byte
    h = header(capsys, "--gpu", "custom", "--peak-tflops", "100", "--bandwidth-gbs", "50",
               "--flops-efficiency", "1/2", "--bandwidth-efficiency", "1/4")
    assert (h["peak_flops_per_s"], h["bandwidth_bytes_per_s"], h["balance_exact"], h["flops_efficiency"],
            h["bandwidth_efficiency"]) == (5 * 10**13, 125 * 10**8, 4000, 0.5, 0.25)
    # a catalogue part changed: H100-SXM at 500 TFLOP/s and 1000 GB/s, balance 5·10^14/10^12 = 500
    h = header(capsys, "--gpu", "H100-SXM", "--peak-tflops", "500", "--bandwidth-gbs", "1000")
    assert (h["gpu"], h["peak_flops_per_s"], h["bandwidth_bytes_per_s"], h["balance_exact"]) == (
        "H100-SXM", 5 * 10**14, 10**12, 500)
    # a dtype the part has no peak for, with --peak-tflops: that peak, in that dtype
    h = header(capsys, "--gpu", "A100-80GB", "--dtype", "fp8", "--peak-tflops", "500")
    assert (h["dtype"], h["peak_flops_per_s"]) == ("fp8", 5 * 10**14)


def test_custom_gpu_says_where_it_comes_from(capsys):
    code, out, err = run_cli(capsys, "latex", "--document", "--gpu", "custom", "--peak-tflops", "100",
                             "--bandwidth-gbs", "50", "--phase", "decode")
    assert code == 0, err
    assert "\\section*{Hardware: custom}\n" in out and "{\\raggedright Source: from the command line.\\par}" in out


def test_custom_gpu_needs_its_two_rates(capsys):
    code, out, err = run_cli(capsys, "crossover", "--gpu", "custom", "--peak-tflops", "100")
    assert (code, out, err) == (2, "", "symroof: error: --gpu custom needs --bandwidth-gbs\n")
    code, out, err = run_cli(capsys, "crossover", "--gpu", "custom")
    assert (code, out, err) == (2, "", "symroof: error: --gpu custom needs --peak-tflops and --bandwidth-gbs\n")


# ---- analysis/request: a tiny model on a round machine, against loops over the passes --------------------------

from symroof.analysis import request as an_request  # noqa: E402
from symroof.analysis.timing import communication, latency, time_per_output_token, time_to_first_token  # noqa: E402

# Toy with a GPU-to-GPU link (tensor parallelism needs one), 10^11 byte/s
LINKED = symroof.Hardware(name="Linked", peak_flops_per_s={"bf16": 10**15}, bandwidth_bytes_per_s=10**12,
                          interconnect_bytes_per_s=10**11, board_power_w=500)
SMALL = symroof.Arch(hidden=64, layers=2, heads=4, kv_heads=4, ffn_dim=128, vocab=100, name="small")


@pytest.mark.parametrize("name,kind,operator", [
    ("attention/scores", "flops", "attention"), ("attention/scores", "bytes", "attention"),
    ("attention/values", "flops", "attention"), ("kv/read", "bytes", "attention"), ("kv/write", "bytes", "attention"),
    ("attention/kv", "bytes", "attention"), ("weights/attention/sinks", "bytes", "attention"),
    ("attention/q_absorb", "flops", "attention/kv_up"), ("attention/v_absorb", "flops", "attention/kv_up"),
    ("weights/ffn/up", "bytes", "ffn/up"), ("weights/ffn/up", "flops", "weights/ffn/up"),
    ("attention/q", "flops", "attention/q"), ("activations", "bytes", "activations"), ("kvx", "bytes", "kvx"),
])
def test_operator_of_follows_the_documented_rules(name, kind, operator):
    """The module's rules: attention proper is one fused operator; MLA's folded products use kv_up's weights;
    a weight term belongs to its matrix (bytes only); the rest are operators of their own."""
    assert an_request.operator_of(name, kind) == operator


def test_operators_split_a_cost_by_operator():
    cost = Cost(flops={"attention/q": 1, "attention/scores": 2},
                bytes={"weights/attention/q": 3, "kv/read": 4, "activations": 5})
    assert an_request.operators(cost) == {
        "activations": Cost(bytes={"activations": 5}),
        "attention": Cost(flops={"attention/scores": 2}, bytes={"kv/read": 4}),
        "attention/q": Cost(flops={"attention/q": 1}, bytes={"weights/attention/q": 3})}


@pytest.mark.parametrize("tp,comm,model", [(1, None, None), (2, None, None), (2, "none", None), (2, None, "sum")])
def test_request_time_of_a_small_model_equals_the_loops(tp, comm, model):
    """S = 6, G = 4, B = 3: the prefill's latency, then one decode step at each S_c = 6..9."""
    s, g, b, conv = 6, 4, 3, "exact"
    kw = {"tp": tp, "comm": comm, "model": model}
    ttft = time_to_first_token(SMALL, conv, LINKED, B=b, S=s, **kw).total_s
    steps = [time_per_output_token(SMALL, conv, LINKED, B=b, S_c=x, **kw).total_s for x in range(s, s + g)]
    decode = sum(steps)
    t = an_request.request_time(SMALL, conv, LINKED, S=s, G=g, B=b, **kw)
    assert (t.ttft_s, t.decode_s, t.total_s, t.tpot_s) == (ttft, decode, ttft + decode, decode / g)
    assert (t.tokens_per_s, t.decode_tokens_per_s, t.gpus, t.tokens) == (b * g / (ttft + decode), b * g / decode,
                                                                          tp, b * g)
    one = time_per_output_token(SMALL, conv, LINKED, B=b, S_c=S_c, **kw)
    assert t.mean_context_s == g * one.total_s.subs(S_c, s + sympy.Rational(g, 2))        # one step at S + G/2
    assert t.mean_context_error_s == t.mean_context_s - decode
    assert sympy.expand(t.step_s - one.total_s) == 0
    x = t.crossover_S_c                           # compute = memory there (both linear in S_c)
    assert x is not None and sympy.simplify((one.compute_s - one.memory_s).subs(S_c, x)) == 0


def test_request_time_of_chunked_and_shared_prefix_prefills():
    """Chunks of 4 of a 12-token prompt, B = 2, on 2 GPUs: a prefill of 4, then steps of 4 new tokens over 4 and 8,
    each pass with the communication of its B·4 tokens. A shared prefix of 8: a prefill of 8 (one sequence, 8
    tokens), then a step of 4 new over 8 for the B sequences (B·4 tokens)."""
    conv, b, tp = get("exact"), 2, 2
    comm = lambda tokens: communication(SMALL, LINKED, conv, tp=tp, tokens=tokens).total_s
    lat = lambda cost, tokens: latency(cost, LINKED, tp=tp, comm_s=comm(tokens)).total_s
    chunked = lat(symroof.prefill(SMALL, conv, B=b, S=4), b * 4) + sum(
        lat(symroof.step(SMALL, conv, B=b, S_i=4, S_c=4 * j), b * 4) for j in (1, 2))
    t = an_request.request_time(SMALL, conv, LINKED, S=12, G=2, B=b, tp=tp, chunk=4)
    assert t.ttft_s == chunked
    shared = lat(symroof.prefill(SMALL, conv, B=1, S=8), 8) + lat(symroof.step(SMALL, conv, B=b, S_i=4, S_c=8), b * 4)
    t = an_request.request_time(SMALL, conv, LINKED, S=12, G=2, B=b, tp=tp, prefix=8)
    assert t.ttft_s == shared
    with pytest.raises(ValueError) as err:
        an_request.request_time(SMALL, conv, LINKED, S=12, G=2, B=b, chunk=4, prefix=8)
    assert str(err.value) == "give chunk or prefix, not both"
    with pytest.raises(ValueError) as err:
        an_request.request_time(SMALL, conv, LINKED, S=12, G=2, B=b, chunk=5)
    assert str(err.value) == "chunk=5 must divide S=12"
    with pytest.raises(ValueError) as err:
        an_request.request_time(SMALL, conv, LINKED, S=12, G=2, B=b, prefix=12)
    assert str(err.value) == "prefix=12 must be shorter than S=12"


def test_operator_time_of_a_small_model_equals_llm_viewers_loop():
    """LLM-Viewer's per-operator time (tests/test_request.py's llm_viewer_time) summed over the prefill and
    the decode steps S_c = 6..9."""
    from tests.test_request import llm_viewer_time
    s, g, b = 6, 4, 3
    loop = llm_viewer_time(symroof.prefill(SMALL, "exact", B=b, S=s), LINKED) + sum(
        llm_viewer_time(symroof.decode(SMALL, "exact", B=b, S_c=x), LINKED) for x in range(s, s + g))
    got = an_request.operator_time(SMALL, "exact", LINKED, S=s, G=g, B=b)
    assert got.per_operator_s == loop
    roof = an_request.request_time(SMALL, "exact", LINKED, S=s, G=g, B=b).total_s
    assert (got.roofline_s, got.operator_gap_s) == (roof, loop - roof)
    assert got.ttft_s == llm_viewer_time(symroof.prefill(SMALL, "exact", B=b, S=s), LINKED)


def test_request_report_of_a_small_model():
    """The report's sizes and costs against the loop of steps (tests/test_request.py's loop_request); $ and J
    by their formulas: price·gpus·seconds/3600/tokens·10^6 and watts·gpus·seconds/tokens."""
    from tests.test_request import loop_request
    s, g, b, tp = 6, 4, 3, 2
    r = an_request.request_report(SMALL, "exact", LINKED, S=s, G=g, B=b, tp=tp, price_per_gpu_hour=3)
    cost = loop_request(SMALL, "exact", s, g, b)
    t = an_request.request_time(SMALL, "exact", LINKED, S=s, G=g, B=b, tp=tp)
    assert (r["model"], r["conventions"], r["hardware"], r["S"], r["G"], r["B"], r["tp"]) == (
        "small", "exact", "Linked", s, g, b, tp)
    assert (r["flops"], r["bytes"], r["kv_bytes"], r["weight_bytes"]) == (
        cost.flops, cost.bytes, cost.bytes_of("kv"), cost.bytes_of("weights"))
    assert (r["ttft_s"], r["total_s"], r["crossover_S_c"]) == (t.ttft_s, t.total_s, t.crossover_S_c)
    assert r["dollars_per_million_tokens"] == sympy.Rational(3) * tp * t.total_s / 3600 / (b * g) * 10**6
    assert r["joules_per_token"] == 500 * tp * t.total_s / (b * g)                  # the part's 500 W
    other = an_request.request_report(SMALL, "exact", LINKED, S=s, G=g, B=b, board_power_w=100)
    one = an_request.request_time(SMALL, "exact", LINKED, S=s, G=g, B=b)
    assert other["joules_per_token"] == 100 * one.total_s / (b * g) and other["dollars_per_million_tokens"] is None


def test_request_latex_of_a_small_model_with_numbers():
    """S = 6, G = 4: the loop's FLOPs are proportional to B, its bytes the weights plus B times the rest, so
    with B left a symbol the lines are ``c B`` and ``w + k B`` (constant terms first), c, w, k from the loop
    at B = 1 and B = 2; the KV bytes are B times their value at B = 1."""
    from tests.test_request import loop_request
    one, two = loop_request(SMALL, "exact", 6, 4, 1), loop_request(SMALL, "exact", 6, 4, 2)
    assert two.flops == 2 * one.flops and two.bytes_of("kv") == 2 * one.bytes_of("kv")
    w, k = 2 * one.bytes - two.bytes, two.bytes - one.bytes
    for n in (one.flops, w, k, one.bytes_of("kv")):      # fewer than 6 trailing zeros: printed digit by digit
        assert n > 1 and not str(n).endswith("000000")
    assert an_request.request_latex(SMALL, "exact", S=6, G=4) == [
        rf"\text{{FLOPs}}_\text{{request}} = {one.flops} B", rf"\text{{bytes}}_\text{{request}} = {w} + {k} B",
        rf"\text{{KV bytes}}_\text{{request}} = {one.bytes_of('kv')} B"]


# ---- cli: report, against the library's timing functions and hand rules ---------------------------------------

import json  # noqa: E402

LLAMA = symroof.models.get("llama-3-8b")
H100 = symroof.hardware.get("H100-SXM")


def report_json(capsys, *argv):
    code, out, err = run_cli(capsys, "report", "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def test_report_of_a_step_times_and_tokens_per_second(capsys):
    """B = 2, S_c = 8, S_i = 3: the step's time is time_per_output_token's, its tokens B·S_i = 6, its fit
    holds S_c + S_i = 11 tokens of context."""
    r = report_json(capsys, "--phase", "decode", "-b", "2", "--cached", "8", "--new", "3")["phases"]["decode"]
    t = time_per_output_token(LLAMA, "exact", H100, B=2, S_c=8, S_i=3)
    assert r["time_s"]["total"] == float(t.total_s) and r["time_s"]["bound"] == t.bound
    assert r["tokens_per_s"] == float(6 / t.total_s)
    assert r["fit"]["context"] == 11 and r["fit"]["batch"] == 2


def test_report_with_symbols_left_gives_intensity_as_flops_over_bytes(capsys):
    r = report_json(capsys, "--phase", "decode", "--cached", "8")["phases"]["decode"]
    assert r["symbols"] == ["B"]
    flops, moved, intensity = (sympy.sympify(r[k], locals={"B": B}) for k in ("flops", "bytes", "intensity"))
    assert sympy.simplify(intensity - flops / moved) == 0
    c = r["crossover_batch"]                       # the intensity reaches the balance 989e12/3.35e12 at B*
    value = sympy.Rational(c["value"]) if isinstance(c["value"], str) else sympy.Integer(c["value"])
    assert c["above"] == "compute" and (flops / moved).subs(B, value) == H100.balance


@pytest.mark.parametrize("latency_model", ["max", "sum"])
def test_report_of_a_request_sums_its_decode_steps(capsys, latency_model):
    """A prompt of 6, 4 generated, B = 3: TTFT is the prefill's latency, the decode steps are at S_c = 6..9,
    TPOT their mean, end-to-end TTFT + their sum, tokens/s B·G over it, decode tokens/s B over TPOT. The
    memory holds a context of 6 + 4 = 10 tokens."""
    conv = get("exact").replace(latency=latency_model)
    r = report_json(capsys, "--prompt", "6", "--gen", "4", "-b", "3", "--set", f"latency={latency_model}")["request"]
    ttft = time_to_first_token(LLAMA, conv, H100, B=3, S=6).total_s
    steps = [time_per_output_token(LLAMA, conv, H100, B=3, S_c=x).total_s for x in range(6, 10)]
    mean = sum(steps) / 4
    assert r["method"] == "exact: the sum of the 4 decode steps' latencies, S_c = 6..9"
    assert (r["ttft_s"], r["tpot_s"], r["decode_s"], r["e2e_s"]) == (
        float(ttft), float(mean), float(sum(steps)), float(ttft + sum(steps)))
    assert (r["tokens_per_s"], r["decode_tokens_per_s"]) == (float(12 / (ttft + sum(steps))), float(3 / mean))
    assert r["fit"]["context"] == 10


def test_report_sums_every_step_up_to_4096_and_samples_beyond(capsys):
    """MAX_EXACT_STEPS = 4096: G = 4096 steps are summed one by one; G = 4097 takes the mean of 4096 evenly
    spaced steps."""
    assert report_json(capsys, "--prompt", "6", "--gen", "4096")["request"]["method"] == (
        "exact: the sum of the 4096 decode steps' latencies, S_c = 6..4101")
    assert report_json(capsys, "--prompt", "6", "--gen", "4097")["request"]["method"] == (
        "the mean of 4096 evenly spaced decode steps (exact each) over S_c = 6..4102, times G = 4097")


def test_report_text_states_the_memory_of_the_largest_phase(capsys):
    """Llama-3-8B: 8,030,261,248 parameters (the model card's 8.03 B) of 2 bytes, 16,060,522,496 B; KV per
    token 32 layers · 2 (K, V) · 8 heads · 128 · 2 bytes = 131,072 B. The default workloads are a prefill of
    1024 and a decode step over 1024 cached; the largest is the prefill (the activations of 1024 new tokens
    outweigh the decode's one more token of KV, 131 kB), whose KV cache is 1024 · 131,072 = 134,217,728 B."""
    code, out, err = run_cli(capsys, "report")
    assert code == 0, err
    lines = out.split("\n")
    assert "parameters: 8,030,261,248 (8.03 B) total, 8,030,261,248 (8.03 B) active" in lines
    assert "memory: weights 16.06 GB, KV cache 134.2 MB at B=1, 1024 tokens (131.1 kB of KV per token)" in lines


def test_table_cuts_the_last_column_to_the_width(capsys):
    """Width 20: the empty middle column is dropped; the first is 4 wide, two spaces, so the sources get 14
    characters: a 14-character source stays whole, a longer one is cut to 13 and an ellipsis."""
    cli._table(("name", "x", "source"), [("a", "", "abcdefghijklmnopqrstuvwxyz"), ("bb", "", "abcdefghijklmn")],
               width=20)
    assert capsys.readouterr().out == "name  source\na     abcdefghijklm…\nbb    abcdefghijklmn\n"


def test_sci_of_a_float_beyond_float_range():
    """A SymPy Float of 1.23456·10^400 (30 digits) to 4 significant digits: 1.235, exponent 400."""
    assert cli._sci(sympy.Float("1.23456e400", 30), 4) == ("1.235", 400)
    assert cli._sig(sympy.Float("-9.87654e-400", 30), 3) == "-9.88e-400"


def test_cost_and_energy_default_to_one_gpu():
    """One GPU for an hour at 2 $/h for 10^6 tokens: 2 $ per million; 700 W for 1 s over 100 tokens: 7 J each."""
    assert an_request.dollars_per_million_tokens(3600, 10**6, price_per_gpu_hour=2) == 2
    assert an_request.joules_per_token(1, 100, board_power_w=700) == 7


def test_request_time_is_frozen():
    t = an_request.request_time(SMALL, "exact", LINKED, S=2, G=1, B=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.ttft_s = 0


def test_request_report_passes_its_options_on():
    """chunk=3 and model="sum": the report's cost is the chunked request's, its times request_time's and
    operator_time's with the same options (each checked against loops above and in tests/test_request.py)."""
    s, g, b = 6, 4, 3
    kw = {"S": s, "G": g, "B": b, "chunk": 3, "model": "sum"}
    r = an_request.request_report(SMALL, "exact", LINKED, tp=2, **kw)
    cost = cost_request.request(SMALL, "exact", S=s, G=g, B=b, chunk=3)
    t = an_request.request_time(SMALL, "exact", LINKED, tp=2, **kw)
    ops = an_request.operator_time(SMALL, "exact", LINKED, tp=2, **kw)
    assert (r["flops"], r["bytes"]) == (cost.flops, cost.bytes)
    assert (r["ttft_s"], r["decode_s"], r["total_s"], r["tpot_s"]) == (t.ttft_s, t.decode_s, t.total_s, t.tpot_s)
    assert (r["tokens_per_s"], r["decode_tokens_per_s"]) == (b * g / t.total_s, b * g / t.decode_s)
    assert (r["mean_context_s"], r["mean_context_error_s"]) == (t.mean_context_s, t.mean_context_error_s)
    assert (r["per_operator_s"], r["operator_gap_s"]) == (ops.per_operator_s, ops.per_operator_s - t.total_s)
    assert t.total_s != an_request.request_time(SMALL, "exact", LINKED, tp=2, S=s, G=g, B=b).total_s  # options matter


@pytest.mark.parametrize("value,text", [
    (999999.5, "1.000e+06"),     # 4 significant digits: 1.000·10^6, which is 10^6 and written as 10^6 is
    (0.00099996, "0.001"),       # 4 significant digits: 1.000·10^-3, positional as 0.001 is
    (999.96, "1000"), (99999.6, "100000"),
])
def test_round_decides_the_notation_after_rounding(value, text):
    assert cli._round(value) == text


@pytest.mark.parametrize("value,json_value", [
    (sympy.Integer(7), 7), (sympy.Rational(3, 2), "3/2"), (sympy.Float(1.5), 1.5), (sympy.sqrt(2), "sqrt(2)"),
])
def test_exact_json_values(value, json_value):
    """An integer as int, a fraction as "p/q", a float as float, anything else (an irrational) as its text."""
    got = cli._exact(value)
    assert got == json_value and type(got) is type(json_value)


def test_table_header_names_the_tp(capsys):
    """The time column is "time" on one GPU and "time (tp=2)" on two."""
    code, out, _ = run_cli(capsys, "report", "--phase", "decode", "-b", "1", "--cached", "16")
    header = next(line for line in out.split("\n") if line.startswith("phase"))
    assert code == 0 and header.split() == ["phase", "sizes", "FLOPs", "bytes", "intensity", "bound", "time",
                                            "tokens/s"]
    code, out, err = run_cli(capsys, "report", "--phase", "decode", "-b", "1", "--cached", "16", "--tp", "2")
    header = next(line for line in out.split("\n") if line.startswith("phase"))
    assert code == 0 and "time (tp=2)" in header, err


def test_latex_document_notes_a_gpu_alias(capsys):
    code, _, err = run_cli(capsys, "latex", "--document", "--gpu", "H100", "--phase", "decode")
    assert code == 0 and err == "symroof: --gpu H100 → H100-SXM\n"


def test_latex_formulas_refuse_the_hardware_options(capsys):
    for option in (["--interconnect-gbs", "100"], ["--peak-tflops", "100"], ["--gpu", "H100-SXM"]):
        code, out, err = run_cli(capsys, "latex", *option)
        assert (code, out, err) == (2, "", "symroof: error: --gpu and the hardware options apply to latex "
                                           "--document only\n"), option


def test_crossover_json_of_the_batch(capsys):
    """B* of a decode step over 16 cached tokens: the intensity equals the balance there; the memory check
    is at ⌈B*⌉ with a context of S_c + 1 = 17 (one new token)."""
    code, out, err = run_cli(capsys, "crossover", "--json", "--cached", "16")
    assert code == 0, err
    r = json.loads(out)
    assert (r["command"], r["unknown"], r["phase"], r["values"]) == ("crossover", "B", "decode", {"S_c": 16})
    value = sympy.Rational(r["value"]) if isinstance(r["value"], str) else sympy.Integer(r["value"])
    cost = symroof.decode(LLAMA, "exact", B=B, S_c=16)
    assert (cost.flops / cost.bytes).subs(B, value) == H100.balance
    assert r["ceiling"] == int(sympy.ceiling(value)) and r["approx"] == float(value)
    limit = sympy.Rational(r["limit"]) if isinstance(r["limit"], str) else sympy.Integer(r["limit"])
    assert r["limit_approx"] == float(limit) and r["fit"]["context"] == 17
    assert r["above"] == "compute" and r["exists"] is True


def test_crossover_in_the_context(capsys):
    """--unknown S_c at B = 256: the cache length where the step turns memory-bound (the library's docstring
    example: 280 on A100-80GB under roofline-notes)."""
    code, out, err = run_cli(capsys, "crossover", "--json", "--unknown", "S_c", "-b", "256", "--gpu", "A100-80GB",
                             "--conventions", "roofline-notes")
    assert code == 0, err
    r = json.loads(out)
    assert r["unknown"] == "S_c" and r["above"] == "memory" and int(r["approx"]) == 280


def test_hardware_rows_give_the_peak_with_its_dtype(capsys):
    """symroof/data/hardware.toml: H100-SXM's bf16 peak is 989e12 FLOP/s."""
    code, out, _ = run_cli(capsys, "hardware")
    row = next(line for line in out.split("\n") if line.startswith("H100-SXM "))
    assert code == 0 and "989 TFLOP/s bf16" in row


def test_range_sum_of_a_min_holding_a_max_of_other_symbols():
    """Min(x + 1, Max(W, 5)): the inner Max has no x, so the Min is the one to split (at x = Max(W, 5) − 1)."""
    W = sym.W
    closed = cost_request.range_sum(sympy.Min(X + 1, sympy.Max(W, 5)), X, 1, S)     # a closed form in S and W
    for w in (1, 7, 20):
        for n in (1, 4, 10, 30):
            assert closed.subs({W: w, S: n}) == loop(lambda k, w=w: min(k + 1, max(w, 5)), 1, n), (w, n)


def test_range_sum_over_a_symbolic_range_of_known_length():
    """S .. S − 1 is empty (0 even for a Mod, which has no closed form); S .. S − 2 is refused."""
    assert cost_request.range_sum(sympy.Mod(X, 3), X, S, S - 1) == 0
    with pytest.raises(ValueError) as err:
        cost_request.range_sum(X, X, S, S - 2)
    assert str(err.value) == "range_sum: hi=S - 2 must be at least lo - 1 = S - 1"


def test_range_sum_with_a_slope_of_unknown_sign_on_both_sides_of_zero():
    """Min(a·x, 5) and Max(a·x, 5) for x = −10..10: for a < 0 the crossing is at x = 5/a, inside the range."""
    a = sympy.Symbol("a", integer=True)
    for func, f in ((sympy.Min, min), (sympy.Max, max)):
        closed = cost_request.range_sum(func(a * X, 5), X, -10, 10)
        for value in (2, -1, -3, 0):
            assert closed.subs(a, value) == loop(lambda k, f=f, v=value: f(v * k, 5), -10, 10), (func, value)


def test_request_with_chunks_and_a_batch():
    """chunk=4 of S = 8, B = 3: steps of 4 new tokens over 0 and 4, then the decode steps at S_c = 8, 9."""
    chunks = symroof.prefill(SMALL, "exact", B=3, S=4) + symroof.step(SMALL, "exact", B=3, S_i=4, S_c=4)
    decode = symroof.step(SMALL, "exact", B=3, S_i=1, S_c=8) + symroof.step(SMALL, "exact", B=3, S_i=1, S_c=9)
    assert cost_request.request(SMALL, "exact", S=8, G=2, B=3, chunk=4) == chunks + decode


def test_operator_time_is_frozen_and_counts_the_communication():
    """On 2 GPUs the per-operator model's "comm" is every pass's communication: the prefill's and each decode
    step's (time_to_first_token's and time_per_output_token's comm_s); with --comm none, nothing."""
    s, g, b = 6, 4, 3
    got = an_request.operator_time(SMALL, "exact", LINKED, S=s, G=g, B=b, tp=2)
    comm = time_to_first_token(SMALL, "exact", LINKED, B=b, S=s, tp=2).comm_s + sum(
        time_per_output_token(SMALL, "exact", LINKED, B=b, S_c=x, tp=2).comm_s for x in range(s, s + g))
    assert comm > 0 and got.by_operator["comm"] == comm
    assert an_request.operator_time(SMALL, "exact", LINKED, S=s, G=g, B=b, tp=2, comm="none").by_operator["comm"] == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.ttft_s = 0


def test_request_latex_with_a_batch():
    """B = 2 given: the three lines are the loop's numbers at B = 2."""
    from tests.test_request import loop_request
    two = loop_request(SMALL, "exact", 6, 4, 2)
    assert an_request.request_latex(SMALL, "exact", S=6, G=4, B=2) == [
        rf"\text{{FLOPs}}_\text{{request}} = {two.flops}", rf"\text{{bytes}}_\text{{request}} = {two.bytes}",
        rf"\text{{KV bytes}}_\text{{request}} = {two.bytes_of('kv')}"]
