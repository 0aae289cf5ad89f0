"""The derivation scripts run, agree with themselves and keep ERRATA.md up to date; the Claim
machinery rounds and compares as documented, and never parses text. (That the claims' figures stand
in the seed documents is tests/test_seed_documents.py, which needs the documents.)"""

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from symroof.output.derivation import Claim, Derivation, Formula, Worked, errata_markdown, format_number
from symroof.symbols import B, H, S
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"
SCRIPTS = {"seed_000": "000_*.txt", "seed_002": "002_*.txt", "seed_003": "003_*.txt"}


def load(name):
    return load_script(DERIVATIONS / f"{name}.py", f"test_derivations_{name}")


@pytest.fixture(scope="module")
def built():
    return {name: load(name).build() for name in SCRIPTS}


# ---- the scripts run ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_runs_and_prints_latex(name):
    """As a user runs it: a separate process, exit status 0, a LaTeX document on stdout."""
    run = subprocess.run([sys.executable, str(DERIVATIONS / f"{name}.py"), "--latex"], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(r"\documentclass{article}") and run.stdout.rstrip().endswith(r"\end{document}")
    assert r"\textbf{erratum}" in run.stdout and r"\textsc{ok}" in run.stdout
    assert run.stderr == ""


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_text_output(built, name):
    d = built[name]
    text = d.text()
    assert "[ERRATUM]" in text and "[ok]" in text
    n, held, errata = map(int, re.search(r"(\d+) claims checked: (\d+) hold, (\d+) errata\.", text).groups())
    assert (n, held, errata) == (len(d.claims), len(d.claims) - len(d.errata), len(d.errata))


def test_main_prints_text_and_errata(capsys):
    module = load("seed_002")
    assert module.main([]) == 0
    assert capsys.readouterr().out.startswith("Seed 002")
    assert module.main(["--errata"]) == 0
    assert capsys.readouterr().out.startswith("# Errata of the seed documents")


def test_seed_000_plot(tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert load("seed_000").main(["--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert "saved" in capsys.readouterr().err


def test_bad_option_is_exit_status_2():
    run = subprocess.run([sys.executable, str(DERIVATIONS / "seed_002.py"), "--nonsense"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2 and "unrecognized arguments: --nonsense" in run.stderr


# ---- the derivations are consistent ---------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_claim_holds_or_names_its_cause(built, name):
    d = built[name]
    assert d.problems() == []
    assert len(d.claims) >= 25 and d.errata
    for claim in d.errata:
        assert len(claim.cause) > 15, claim.label


def test_errata_file_is_up_to_date(built):
    text = errata_markdown([built[n] for n in sorted(SCRIPTS)], generator="python derivations/make_errata.py")
    assert (DERIVATIONS / "ERRATA.md").read_text(encoding="utf-8") == text
    # every erratum of every document is listed, with its correct value
    for d in built.values():
        for c in d.errata:
            assert c.correct.replace("|", "\\|") in text


def test_make_errata_check(built, monkeypatch, tmp_path, capsys):
    make = load("make_errata")
    monkeypatch.setattr(make, "derivations", lambda: [built[n] for n in sorted(SCRIPTS)])
    assert make.main(["--check"]) == 0
    monkeypatch.setattr(make, "OUTPUT", tmp_path / "ERRATA.md")
    assert make.main(["--check"]) == 1 and "out of date" in capsys.readouterr().err
    assert make.main([]) == 0 and make.main(["--check"]) == 0


# ---- rounding, as the seed tests read it (independent of symroof.derivation) ----------------------
def as_fraction(value) -> Fraction:
    """An exact number (int, Fraction, SymPy Rational) as a Fraction; anything inexact is refused."""
    if isinstance(value, sympy.Basic):
        assert value.is_Rational, value
        return Fraction(int(value.p), int(value.q))
    assert isinstance(value, int | Fraction), value
    return Fraction(value)


def stands_for(printed: str, value, rounding: str = "digit") -> bool:
    """Whether the exact ``value`` (in the document's unit) is what the document ``printed``.

    ``digit``: within half a unit of the last printed digit ("11.4" stands for 11.35 to 11.45);
    ``sig:n``: within half a unit of the n-th significant figure of a whole number ("≈ 10,000"
    at one figure stands for 5,000 to 15,000); ``exact``: equal. A fraction ("1/6") is exact.
    The seed tests use this, not `Claim.holds`, to decide which printed numbers are wrong.
    """
    text = printed.replace(",", "")
    number = Fraction(text)
    if rounding == "exact" or "/" in text:
        half = Fraction(0)
    elif rounding == "digit":
        half = Fraction(1, 2 * 10 ** len(text.partition(".")[2]))
    else:
        figures = int(rounding.removeprefix("sig:"))
        assert text.isdigit() and 1 <= figures <= len(text), (printed, rounding)
        half = Fraction(10 ** (len(text) - figures), 2)
    return abs(as_fraction(value) - number) <= half


def assert_flags_exactly(d, independent: set[str], readable: set[str]) -> None:
    """A seed's errata: those its test recomputes, its readable list and the claims the derivation flags agree."""
    assert independent == readable
    assert {c.label for c in d.errata} == readable
    assert d.problems() == []


def assert_words(d, words: dict) -> None:
    """Claims in words: the derivation prints and corrects each as the seed test's table says."""
    for label, (printed, correct) in words.items():
        assert (d[label].printed, d[label].value) == (printed, correct)


def test_stands_for():
    assert stands_for("11.4", Fraction(1135, 100)) and not stands_for("11.4", Fraction(11453, 1000))
    assert stands_for("0.0217", Fraction(13, 600))                       # 0.021666…
    assert stands_for("10,000", 14_999, "sig:1") and not stands_for("10,000", 15_001, "sig:1")
    assert stands_for("1300", 1349, "sig:2") and not stands_for("1300", Fraction(13757, 10), "sig:2")
    assert stands_for("262,144", 262_144, "exact") and not stands_for("262,144", 262_145, "exact")
    assert stands_for("1/6", Fraction(1, 6)) and not stands_for("1/6", Fraction(1, 6) + Fraction(1, 10**9))
    assert stands_for("480", sympy.Rational(960, 2)) and not stands_for("480", sympy.Rational(436_207_616, 10**6))


# ---- the Claim machinery ------------------------------------------------------------------------
def test_rounding_of_printed_numbers():
    c = lambda printed, value, **kw: Claim("x", "s", "t", printed, value, **kw)
    assert c("11.4", sympy.Rational(1146, 100), unit="").holds is False         # 11.46 rounds to 11.5
    assert c("11.4", sympy.Rational(1135, 100)).holds is True                   # the interval is closed
    assert c("11.4", 17_179_869_184 / sympy.Rational(15, 10) / 10**12 * 1000).holds is False   # 003: 11.45…
    assert c("10,000", 10_788, rounding="sig:1").tolerance == 5000
    assert c("23000", 26_629, rounding="sig:2").tolerance == 500
    assert c("23000", 26_629, rounding="sig:2").holds is False
    assert c("0.0217", sympy.Rational(13, 600), unit="s").holds is True          # 0.021666…
    assert c("22", sympy.Rational(13, 600), unit="ms").holds is True
    assert c("1/6", sympy.Rational(1, 6)).tolerance == 0
    assert c("262,144", 262_144, rounding="exact").holds is True
    assert c("262,144", 262_145, rounding="exact").holds is False
    assert c("32", 4096 * 4096 * 2, unit="MiB").holds and not c("32", 4096 * 4096 * 2, unit="MB").holds


def test_formula_and_word_claims():
    assert Claim("f", "s", "t", 6 * B * S * H**2, 2 * B * S * H * H * 3).holds
    assert not Claim("f", "s", "t", B * S * 4096 * 8, 7 * B * S * 4096, cause="x").holds
    assert Claim("w", "s", "t", "memory-bound", "memory-bound").holds
    assert not Claim("w", "s", "t", "memory-bound", "compute-bound", cause="x").holds


@pytest.mark.parametrize("kwargs, message", [
    (dict(unit="furlongs"), "unit='furlongs' is not allowed"),
    (dict(kind="typo"), "kind='typo' is not allowed"),
    (dict(rounding="sig"), "rounding='sig' is not allowed"),
])
def test_bad_claims_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Claim("x", "s", "t", "1", 1, **kwargs)


def test_bad_printed_or_value_is_a_clear_error():
    with pytest.raises(ValueError, match="is not a plain number"):
        Claim("x", "s", "t", "1e12", 1)
    with pytest.raises(ValueError, match="must be a finite real number"):
        Claim("x", "s", "t", "1", sympy.zoo)
    with pytest.raises(ValueError, match="must be a finite real number"):
        Claim("x", "s", "t", "1", B)


def test_problems_catch_unexplained_and_overexplained_claims():
    d = Derivation("t", "s").section("one", where="heading")
    d.claim("a", "agrees but has a cause", "2", 2, cause="why")
    d.claim("b", "disagrees silently", "2", 3)
    d.claim("b", "a repeated label", "3", 3)
    problems = d.problems()
    assert any(p.startswith("a: holds") for p in problems)
    assert any(p.startswith("b: document 2 but symroof 3") for p in problems)
    assert "b: label used twice" in problems
    assert d.errata == [d.claims[1]]
    with pytest.raises(KeyError, match="no claim 'zz'"):
        d["zz"]


def test_inconsistent_derivation_exits_1(capsys):
    from symroof.output.derivation import run

    def broken():
        return Derivation("t", "s").add(Claim("b", "s", "disagrees silently", "2", 3))

    assert run(broken, []) == 1
    assert "inconsistent claim: b:" in capsys.readouterr().err


def test_format_number():
    assert format_number(436_207_616) == "436,207,616"
    assert format_number(sympy.Rational(436_207_616, 10**6)) == "436.2"
    assert format_number(sympy.Rational(312_000, 2039)) == "153"
    assert format_number(sympy.Rational(2_097_152, 10**9)) == "0.002097"
    assert format_number(sympy.Rational(10_789_5, 10), 6) == "10,789.5"


def test_latex_escapes_text():
    d = Derivation("50% of d_model & more", "x_y.txt")
    d.claim("a", "W_q ≈ 32MB #1", "32", 4096 * 4096 * 2, unit="MiB", where="§2 & more")
    tex = d.latex()
    assert r"50\% of d\_model \& more" in tex and r"W\_q $\approx$ 32MB \#1" in tex and r"§2 \& more" in tex


# ---- seed 000's numbers (its formulas are in tests/test_seed000.py) ----------------------------
def test_seed_000_numbers(built):
    d = built["seed_000"]
    # "312 × 10^12 / (2039 × 10^9) ≈ 153"
    assert d["roofline/balance"].value == sympy.Rational(312_000, 2039) and d["roofline/balance"].holds
    # the HTML comment: 40 · 12 · 5120² · 2 ≈ 25.17 GB; plus a 32,000 × 5,120 embedding and LM head ≈ 26 GB
    assert d["comment/layers-bytes"].value == 40 * 12 * 5120**2 * 2 == 25_165_824_000
    assert d["comment/total"].value == 25_165_824_000 + 2 * 32000 * 5120 * 2 and d["comment/total"].holds
    # which of 000's claims are errata, and why, is recomputed in tests/test_seed000.py


def test_seed_000_curves_follow_the_documents_formulas(built):
    """The tables of the GeoGebra curves, recomputed from 000's own formulas typed in here."""
    text = built["seed_000"].text()
    N_, H_, Z_ = 40, 5120, 13          # the 13B-like model
    prefill = lambda s: sympy.Rational(N_ * (24 * s * H_**2 + 4 * s**2 * H_), 2 * Z_ * 10**9 + 4 * N_ * s * H_)
    assert f"   1024                          {format_number(prefill(1024))}" in text   # B = 1
    # speculative decoding, 000's decode intensity at S_c = 1024, B = 1
    spec = lambda i: sympy.Rational(N_ * (24 * i * H_**2 + 4 * i * 1024 * H_),
                                    2 * Z_ * 10**9 + 8 * N_ * i * H_ + 2 * N_ * 1024 * H_)
    assert format_number(spec(64)) in text
    # the crossover S_i* ≈ 157: the formula is below the A100-80GB balance at 156 and above it at 157
    balance = sympy.Rational(312_000, 2039)
    assert spec(156) < balance < spec(157)
    assert "S_i* (13B-like (H=5120, N=40, Z=13), 000) = 157" in text
    assert prefill(158) < balance < prefill(159) and "S* (13B-like (H=5120, N=40, Z=13)) = 158.1" in text


# ---- claims hold data, not quotes; text is never parsed --------------------------------------------
def test_claims_carry_a_section_and_a_label(built):
    for d in built.values():
        for c in d.claims:
            assert c.where.strip() and c.about.strip(), c.label


def test_claim_takes_its_section_from_the_derivation():
    d = Derivation("t", "s").section("ours", where="2. Their heading")
    assert d.claim("a", "one figure", "2", 2).where == "2. Their heading"
    assert d.claim("b", "another", "2", 2, where="3. Elsewhere").where == "3. Elsewhere"
    with pytest.raises(ValueError, match="where='' must be a non-empty string"):
        Derivation("t", "s").claim("c", "no section named", "2", 2)


PAYLOAD = "__import__('os').system('touch /tmp/symroof_pwned')"


@pytest.mark.parametrize("make, field", [
    (lambda: Formula("x", PAYLOAD), "formula 'x': expr"),
    (lambda: Formula("x", [PAYLOAD]), "formula 'x': expr"),
    (lambda: Formula("x", (1, PAYLOAD)), "formula 'x': expr"),
    (lambda: Claim("c", "s", "t", H, PAYLOAD + " + 1", cause="x"), "printed must be a word too"),
    (lambda: Claim("c", "s", "t", H, [PAYLOAD]), "claim 'c': value"),
    (lambda: Claim("c", "s", "t", [PAYLOAD], H), "claim 'c': printed"),
    (lambda: Claim("c", "s", "t", (PAYLOAD,), H), "claim 'c': printed"),
    (lambda: Claim("c", "s", "t", "2", [PAYLOAD]), "claim 'c': value"),
    (lambda: Claim("c", "s", "t", PAYLOAD, 2), "is not a plain number"),
    (lambda: Claim("c", "s", "t", "1/6", {"x": PAYLOAD}), "claim 'c': value"),
])
def test_text_where_an_expression_belongs_is_refused(make, field, tmp_path, monkeypatch):
    """A string (bare or inside a list or tuple) is never handed to SymPy's parser, which runs Python:
    one ValueError line names the field, and the payload does not run."""
    marker = Path("/tmp/symroof_pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(ValueError, match=re.escape(field)) as error:
        make()
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_formula_and_worked_step():
    f = Formula("P", 12 * H**2)
    assert f.text() == "P = 12·H^2" and "12 H^{2}" in f.latex()
    assert Formula("n", 3).expr == 3 and Formula("r", Fraction(1, 6)).expr == sympy.Rational(1, 6)
    w = Worked("N · 12 · H² · 2", "40 · 12 · 5120² · 2 = 25,165,824,000 bytes")
    assert w.line() == "N · 12 · H² · 2 = 40 · 12 · 5120² · 2 = 25,165,824,000 bytes"
    with pytest.raises(ValueError, match="must be a string"):
        Worked("w", 12 * H**2)
    text = Derivation("t", "s").add(f, w).text()
    assert "  P = 12·H^2" in text and "  N · 12 · H² · 2 = 40" in text
