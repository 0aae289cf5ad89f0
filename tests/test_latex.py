"""LaTeX output: the seeds' own formula strings, round trips through a LaTeX parser, mathtext,
and a standalone derivation document that compiles with pdflatex."""

import re
import shutil
import subprocess
from fractions import Fraction

import pytest
import sympy
from matplotlib.mathtext import MathTextParser

import symroof
from symroof import symbols as sym
from symroof.cost.components import Step, attention, ffn
from symroof.cost.conventions import get
from symroof.output import latex
from symroof.output.latex import cost_latex, cost_rows, document, intensity_latex, sum_lines, to_latex
from symroof.symbols import B, H, N, S, S_c, S_i, Z

C000 = get("arithmetic-intensity")
FP16 = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)


def norm(tex):
    r"""Whitespace, ``\left``/``\right`` and braces around one-character exponents do not count;
    ``\times`` is a product written out (000 writes ``8 \times B \times S \times H^2``)."""
    tex = tex.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\times", " ")
    tex = re.sub(r"\^\{(\w)\}", r"^\1", tex)
    return re.sub(r"\s+", "", tex)


# ---- the seeds' own strings ----------------------------------------------------------------
# 000 (jamesnulliu), sections 1-3, copied from the document.
SEED_000 = {
    "prefill flops": r"N (24 B S H^2 + 4 B S^2 H)",
    "decode flops": r"N (24 B S_i H^2 + 4 B S_i S_c H)",
    "attention per layer": r"8 \times B \times S \times H^2 + 4 \times B \times S^2 \times H",
    "ffn per layer": r"16 \times B \times S \times H^2",
    "activations": r"4 \times N \times B \times S \times H",
    "prefill intensity": r"\frac{N (24 B S H^2 + 4 B S^2 H)}{2 Z 10^9 + 4 N B S H}",
    # 000 writes this one with 2 Z \text{e}^{9}; its prefill formula writes the same 10^9 as 10^9.
    "decode intensity": r"\frac{N (24 B S_i H^2 + 4 B S_i S_c H)}{2 Z \text{e}^{9} + 8 N B S_i H + 2 N B S_c H}"
                        .replace(r"\text{e}^{9}", "10^9"),
}


def test_seed_000_formulas_print_as_the_document_writes_them():
    prefill, step = symroof.prefill(FP16, C000), symroof.step(FP16, C000)
    ours = {
        "prefill flops": to_latex(prefill.flops),
        "decode flops": to_latex(step.flops),
        "attention per layer": to_latex(attention(FP16, C000, Step(B, S, 0)).flops),
        "ffn per layer": to_latex(ffn(FP16, C000, Step(B, S, 0)).flops),
        "activations": to_latex(prefill.bytes_of("activations")),
        "prefill intensity": to_latex(prefill.intensity),
        "decode intensity": to_latex(step.intensity),
    }
    for name, seed in SEED_000.items():
        assert norm(ours[name]) == norm(seed), name
    assert intensity_latex(step) == to_latex(step.intensity)


def test_exact_strings():
    assert to_latex(N * (24 * B * S * H**2 + 4 * B * S**2 * H)) == r"N \left(24 B S H^{2} + 4 B S^{2} H\right)"
    assert to_latex(2 * Z * 10**9) == "2 Z 10^{9}"                 # not 2000000000 Z
    assert to_latex(Z * 10**9) == "Z 10^{9}"
    assert to_latex(sympy.Integer(2 * 10**9)) == r"2 \cdot 10^{9}"
    assert to_latex(sympy.Integer(312000)) == "312000"             # fewer than 6 zeros: as is
    assert to_latex(B * S_i * S_c * H) == "B S_i S_c H"
    assert to_latex(sym.b_kv * sym.n_kv * sym.d_h) == r"b_{kv} n_{kv} d_h"
    assert to_latex(-B * H / 2) == r"- \frac{B H}{2}"
    assert to_latex(sym.pi / sym.beta) == r"\frac{\pi}{\beta}"
    # N is pulled out only when every term has it (000: 2 Z 10^9 + 4 N B S H stays as is)
    assert to_latex(2 * Z * 10**9 + 4 * N * B * S * H) == "2 Z 10^{9} + 4 N B S H"
    # a product that is not a polynomial keeps its shape
    assert to_latex(sympy.sqrt(B + 1)) == r"\sqrt{1 + B}"  # constant terms first, like 000's weights


def test_term_order_is_stable_and_independent_of_construction():
    a = 2 * N * B * S_c * H + 8 * N * B * S_i * H + 2 * Z * 10**9
    b = sympy.Add(8 * N * B * S_i * H, 2 * Z * 10**9, 2 * N * B * S_c * H)
    assert to_latex(a) == to_latex(b) == "2 Z 10^{9} + 8 N B S_i H + 2 N B S_c H"


# ---- round trip through sympy's LaTeX parser -----------------------------------------------
def _parse(tex):
    parse_latex = pytest.importorskip("sympy.parsing.latex").parse_latex
    pytest.importorskip("antlr4", reason="sympy's parse_latex needs antlr4-python3-runtime 4.11 (dev extra)")
    expr = parse_latex(tex)
    # the parser reads "N (" as a call of a function N, and b_{kv} as b_{k*v}
    expr = expr.replace(lambda e: isinstance(e, sympy.core.function.AppliedUndef) and e.func.__name__ == "N",
                        lambda e: sym.N * e.args[0])
    names = {s: sym.ALL[re.sub(r"[{}*]", "", s.name)] for s in expr.free_symbols}
    return expr.xreplace({**names, sympy.pi: sym.pi})


def _same(a, b):
    """Equal as rational functions: the numerator of a − b over a common denominator expands to 0."""
    numerator, _ = sympy.fraction(sympy.together(a - b))
    return sympy.expand(numerator) == 0


@pytest.mark.parametrize("conventions", ["arithmetic-intensity", "roofline-notes", "exact", "matmul"])
@pytest.mark.parametrize("model", ["symbolic", "llama-3-8b"])
def test_latex_parses_back_to_the_same_expression(conventions, model):
    arch = symroof.Arch.symbolic() if model == "symbolic" else symroof.models.get(model)
    for cost in (symroof.prefill(arch, conventions), symroof.decode(arch, conventions)):
        for expr in (cost.flops, cost.bytes, cost.intensity):
            assert _same(_parse(to_latex(expr)), expr), to_latex(expr)


def test_every_named_term_parses_back():
    cost = symroof.step(symroof.Arch.symbolic(), "exact")
    for expr in (*cost.flop_terms.values(), *cost.byte_terms.values()):
        assert _same(_parse(to_latex(expr)), expr), to_latex(expr)


def test_crossover_closed_form_parses_back():
    from symroof.analysis import crossover_batch

    value = crossover_batch(symroof.step(FP16, C000), sym.pi / sym.beta).value
    assert _same(_parse(to_latex(value)), value)


# ---- mathtext -------------------------------------------------------------------------------
_MATHTEXT = MathTextParser("path")


def _mathtext_ok(formula):
    _MATHTEXT.parse(f"${formula}$")
    return True


def test_every_row_of_a_cost_renders_with_mathtext():
    cost = symroof.decode(symroof.Arch.symbolic(), "exact")
    for label, formula in cost_rows(cost):
        assert _mathtext_ok(label) and _mathtext_ok(formula)
    assert _mathtext_ok(intensity_latex(cost))
    assert cost_rows(cost)[-1][0] == r"\text{Bytes}_\text{total}"
    # term by term: one row per named term and a total for each of FLOPs and bytes
    assert len(cost_rows(cost)) == len(cost.flop_terms) + len(cost.byte_terms) + 2
    assert r"\text{FLOPs}_\text{lm\_head}" in cost_latex(cost)


def test_cost_rows_grouped_by_path():
    cost = symroof.decode(FP16, C000)
    rows = dict(cost_rows(cost, depth=1))
    # 000 decode: attention 8 N B H^2 + 4 N B S_c H (S_i = 1); FFN 16 N B H^2
    assert norm(rows[r"\text{FLOPs}_\text{attention}"]) == norm("N (8 B H^2 + 4 B S_c H)")
    assert norm(rows[r"\text{FLOPs}_\text{ffn}"]) == norm("16 N B H^2")
    assert norm(rows[r"\text{Bytes}_\text{kv}"]) == norm("N (4 B H + 2 B S_c H)")


def test_sum_lines_are_balanced_and_rejoin_to_the_whole():
    expr = symroof.prefill(symroof.Arch.symbolic(), "exact").bytes
    lines = sum_lines(expr, max_chars=30)
    assert len(lines) > 2
    for line in lines:
        assert _mathtext_ok(line)
    joined = " ".join(lines).replace(r"\right. \left.", "").replace(r" \right.", "").replace(r"\left. ", "")
    assert norm(joined) == norm(to_latex(expr))


# ---- the derivation document ---------------------------------------------------------------
def _math_fragments(tex):
    """Every formula of a document: each row of each align*, and each inline $...$."""
    body = tex.split(r"\begin{document}", 1)[1]
    out = []
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", body, flags=re.S):
        for row in block.split(r"\\"):
            out += [part.strip() for part in row.split("&") if part.strip()]
    out += re.findall(r"\$(.+?)\$", re.sub(r"\\begin\{align\*\}.*?\\end\{align\*\}", "", body, flags=re.S))
    return out


DOCUMENTS = {
    "000 symbolic": lambda: document(FP16.replace(name="GPT-style fp16"), "arithmetic-intensity",
                                     phases=("prefill", "decode", "step")),
    "exact symbolic on A100": lambda: document(symroof.Arch.symbolic(), "exact", "A100-80GB"),
    "llama-3-8b numbers": lambda: document("llama-3-8b", "roofline-notes", "H100-SXM", B=8, S=1024, S_c=1024,
                                           depth=1),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_formulas_render_with_mathtext(name):
    fragments = _math_fragments(DOCUMENTS[name]())
    assert len(fragments) > 20
    for formula in fragments:
        assert _mathtext_ok(formula), formula


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_compiles_with_pdflatex(name, tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: apt-get install texlive-latex-base)")
    (tmp_path / "doc.tex").write_text(DOCUMENTS[name](), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 10_000
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull.*", log)
    assert "Overfull" not in log and "Underfull" not in log, re.findall(r"(?:Over|Under)full.*", log)


def test_document_states_000s_formulas():
    tex = DOCUMENTS["000 symbolic"]()
    assert norm(SEED_000["prefill flops"]) in norm(tex)
    assert norm(r"\frac{N (24 B S H^2 + 4 B S^2 H)}{2 Z 10^9 + 4 N B S H}") in norm(tex)


def test_document_crossover_of_llama_decode_matches_a_hand_derivation():
    """Llama-3-8B decode over an empty cache, roofline-notes conventions, A100-80GB.

    Per token and layer (002's shapes: H 4096, n_kv·d_h 1024, F 14336, n_h 32, d_h 128):
      FLOPs: 2·4096·(4096 + 1024 + 1024 + 4096) + 3·2·4096·14336 + 2·2·32·128·1 = 436,224,000
      bytes: activations 3·4096·2 + KV write 2·1024·2 = 28,672
    Weights per layer: (4096·10240 + 3·4096·14336)·2 = 436,207,616 bytes.
    I(B) = 32·436224000·B / (32·436207616 + 32·28672·B) = balance 312000/2039
    => B* = balance·436207616 / (436224000 − balance·28672).
    """
    bal = Fraction(312_000, 2039)  # 312 TFLOP/s / 2039 GB/s (000's A100 figures)
    b_star = bal * 436_207_616 / (436_224_000 - bal * 28_672)
    tex = document("llama-3-8b", "roofline-notes", "A100-80GB", S_c=0, phases=("decode",))
    # 22,151,168 / 143,313 (22,151,168 = 169·2^17), as the document writes large integers
    assert (b_star.numerator, b_star.denominator) == (22_151_168, 143_313) and 22_151_168 == 169 * 2**17
    assert r"B^{*} &= \frac{169 \cdot 2^{17}}{143\,313}" in tex
    ceiling = -(-b_star.numerator // b_star.denominator)
    assert f"$B = {ceiling}$" in tex


def test_document_says_when_there_is_no_crossover():
    # GQA decode at a 32k context: the intensity tends to ≈ 7.5 FLOP/byte, far below any balance
    tex = document("llama-3-8b", "roofline-notes", "A100-80GB", S_c=32768, phases=("decode",))
    assert "memory-bound for every batch" in tex


def test_escape_keeps_text_printable():
    assert latex.escape("lm_head & 50% #1 ~ {x}") == r"lm\_head \& 50\% \#1 \textasciitilde{} \{x\}"


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": 12}, "must be an Arch or a model name"),
    ({"arch": "llama-3-8b", "phases": ("warmup",)}, "each must be one of prefill, decode, step"),
    ({"arch": "llama-3-8b", "Q": 3}, "unknown symbol 'Q'"),
    ({"arch": "no-such-model"}, "unknown model"),
    ({"arch": "llama-3-8b", "conventions": "nope"}, "unknown conventions"),
    ({"arch": "llama-3-8b", "hardware": "Z80"}, "unknown GPU"),
])
def test_document_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        document(**kwargs)


# ---- documents a paper can use --------------------------------------------------------------------
def test_formula_lines_are_all_in_math_mode():
    cost = symroof.decode(FP16, C000)
    lines = latex.formula_lines(cost)
    assert len(lines) == 3 and all(line.startswith(r"\[ ") and line.endswith(r" \]") for line in lines)
    assert lines[0] == r"\[ \text{FLOPs} = " + to_latex(cost.flops) + r" \]"
    assert latex.formula_lines(cost, "intensity", bare=True) == [intensity_latex(cost)]
    with pytest.raises(ValueError, match="only='x'"):
        latex.formula_lines(cost, "x")
    for line in lines:                      # each renders as math on its own
        assert _mathtext_ok(line[3:-3])


def test_preset_documents_are_factored_by_layers_with_readable_constants():
    tex = document("llama-3-8b", "roofline-notes")
    # Llama-3-8B, per layer: q projection 2·4096·4096 = 2^25 FLOPs per token; gate, up, down
    # 2·4096·14336 = 7·2^24 each (module doc of test_plot); the 32 layers print as N
    assert r"\text{FLOPs}_\text{attention/q} &= 2^{25} N B S" in tex
    assert r"\text{FLOPs}_\text{ffn/gate} &= 7 \cdot 2^{24} N B S" in tex
    assert "1073741824" not in tex and "3758096384" not in tex
    # the lm head is once per model: 2·4096·128,256 = 501·2^21 FLOPs per sequence (exact conventions)
    assert r"\text{FLOPs}_\text{lm\_head} &= 501 \cdot 2^{21} B" in document("llama-3-8b", "exact")
    # large numbers that are no small multiple of a power of two print in groups of three digits
    assert r"128\,256" in tex


def test_every_symbol_is_defined_even_without_a_gpu():
    tex = document("llama-3-8b", "roofline-notes")
    notation = tex[tex.index(r"\section*{Notation}"):tex.index(r"\section{Prefill}")]
    for symbol in (r"$\pi$", r"$\beta$", "$B$", "$S$", "$S_c$", "$N$"):
        assert symbol in notation, symbol
    with_gpu = document("llama-3-8b", "roofline-notes", "H100-SXM")
    # H100 SXM datasheet: 989 TFLOP/s dense bf16, 3.35 TB/s
    assert r"$9.890 \times 10^{14}$ on H100-SXM" in with_gpu and r"$3.350 \times 10^{12}$ on H100-SXM" in with_gpu


def test_only_the_conventions_that_apply_are_listed():
    dense = document("llama-3-8b", "exact")
    table = dense[dense.index(r"\section*{Conventions}"):dense.index(r"\section*{Notation}")]
    assert "mla" not in table and "experts" not in table and "expert\\_parallel" not in table
    moe = document("mixtral-8x7b", "exact")
    table = moe[moe.index(r"\section*{Conventions}"):moe.index(r"\section*{Notation}")]
    assert "experts\\_read" in table and "mla" not in table
    mla = document("deepseek-v3", "exact")
    table = mla[mla.index(r"\section*{Conventions}"):mla.index(r"\section*{Notation}")]
    assert "mla &" in table and "experts\\_read" in table


@pytest.mark.parametrize("model", ["llama-3-8b", "mixtral-8x7b", "deepseek-v3", "gpt2"])
def test_preset_documents_compile_without_bad_boxes(model, tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "doc.tex").write_text(document(model, "exact", "H100-SXM", S_c=1024), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert "Overfull" not in log and "Underfull" not in log, re.findall(r"(?:Over|Under)full.*", log)
