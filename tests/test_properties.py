"""Properties of the public API over random shapes (hypothesis).

* FLOPs and bytes never decrease as B, S (S_i) or S_c grow, under every preset.
* Intensity is increasing in B and stays below its B→∞ limit, computed here from the
  leading coefficients in B (prefill) and, for decode, equal to the weights-free intensity
  (every FLOP and every non-weight byte is proportional to B, so only weights amortise).
* Simplifying (``cancel``, ``factor``, ``simplify``) the symbolic cost preserves its value.
* ``symroof.compile`` (when present) equals the symbolic value, exactly and in float64.
* The command line never ends in a traceback: random argument lists give exit 0 or 2.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from fractions import Fraction
from functools import cache

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symroof
from symroof import symbols as sym
from symroof.cost.conventions import PRESETS
from tests.test_membytes import archs, to_arch

PRESET = st.sampled_from(sorted(PRESETS))
SHAPES = dict(batch=st.integers(1, 6), new=st.integers(1, 6), cached=st.integers(0, 12))


# ---- monotonicity -----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(a=archs(), preset=PRESET, **SHAPES, grow=st.sampled_from(["batch", "new", "cached"]),
       by=st.integers(1, 5))
def test_flops_and_bytes_never_decrease(a, preset, batch, new, cached, grow, by):
    # Seed 000 has two formulas: with an empty cache (its prefill) the new tokens attend to each other,
    # with a cache its decode formula attends to the S_c cached keys only. Going from S_c = 0 to S_c > 0
    # therefore switches formula (e.g. S_i = 2: 2·2 pairs, then 2·1); that jump is the document's.
    assume(not (preset == "arithmetic-intensity" and grow == "cached" and cached == 0))
    arch = to_arch(a)
    shape = dict(batch=batch, new=new, cached=cached)
    before = symroof.step(arch, preset, B=shape["batch"], S_i=shape["new"], S_c=shape["cached"])
    shape[grow] += by
    after = symroof.step(arch, preset, B=shape["batch"], S_i=shape["new"], S_c=shape["cached"])
    assert after.flops >= before.flops
    assert after.bytes >= before.bytes
    for name, value in before.flop_terms.items():          # term by term, too
        assert after.flop_terms.get(name, 0) >= value, name
    for name, value in before.byte_terms.items():
        assert after.byte_terms.get(name, 0) >= value, name


@settings(max_examples=30, deadline=None)
@given(a=archs(), preset=PRESET, batch=st.integers(1, 6), prompt=st.integers(1, 12), by=st.integers(1, 5))
def test_prefill_grows_with_the_prompt(a, preset, batch, prompt, by):
    arch = to_arch(a)
    short, long = (symroof.prefill(arch, preset, B=batch, S=s) for s in (prompt, prompt + by))
    assert long.flops >= short.flops and long.bytes >= short.bytes


# ---- intensity limits -------------------------------------------------------------------------------------------


def touched(arch: symroof.Arch, preset: str) -> bool:
    """A MoE model under conventions that read the experts a batch touches: bytes grow like (1 − k/E)^B."""
    return arch.is_moe and PRESETS[preset].experts_read == "touched"


@settings(max_examples=30, deadline=None)
@given(a=archs(), cached=st.integers(0, 12), new=st.integers(1, 3), batches=st.lists(st.integers(1, 64), min_size=2,
                                                                                     max_size=4, unique=True))
def test_touched_experts_rise_to_the_every_expert_limit(a, cached, new, batches):
    """Reading only the touched experts: the intensity still rises with B and, as every expert is touched
    at large B, tends to the limit of the same step that reads every expert."""
    arch = to_arch(a)
    assume(arch.is_moe)
    exact = PRESETS["exact"]
    intensities = [symroof.step(arch, exact, B=b, S_i=new, S_c=cached).intensity for b in sorted(batches)]
    every = symroof.step(arch, exact.replace(experts_read="all"), B=sym.B, S_i=new, S_c=cached)
    limit = limit_in_b(every.flops, every.bytes)
    assert all(x < y for x, y in itertools.pairwise(intensities)) and all(i < limit for i in intensities)
    analysis = pytest.importorskip("symroof.analysis")
    assert analysis.intensity_limit(symroof.step(arch, exact, S_i=new, S_c=cached), "B").value == limit


def limit_in_b(flops: sympy.Expr, nbytes: sympy.Expr) -> sympy.Expr:
    """lim_{B→∞} flops/bytes of two polynomials in B, from their degrees and leading coefficients."""
    p, q = sympy.Poly(flops, sym.B), sympy.Poly(nbytes, sym.B)
    if p.degree() != q.degree():
        return sympy.oo if p.degree() > q.degree() else sympy.Integer(0)
    return p.LC() / q.LC()


@settings(max_examples=40, deadline=None)
@given(a=archs(), preset=PRESET, prompt=st.integers(1, 12), batches=st.lists(st.integers(1, 64), min_size=2,
                                                                             max_size=4, unique=True))
def test_prefill_intensity_rises_to_its_batch_limit(a, preset, prompt, batches):
    arch = to_arch(a)
    assume(not touched(arch, preset))          # not a ratio of polynomials in B: the property below
    symbolic = symroof.prefill(arch, preset, B=sym.B, S=prompt)
    assert sympy.Poly(symbolic.flops, sym.B).coeff_monomial(1) == 0        # no FLOP without a sequence
    limit = limit_in_b(symbolic.flops, symbolic.bytes)
    intensities = [symroof.prefill(arch, preset, B=b, S=prompt).intensity for b in sorted(batches)]
    assert intensities == sorted(intensities)                               # non-decreasing in B
    assert all(i < limit for i in intensities)                              # weights are never free
    if limit is not sympy.oo:
        analysis = pytest.importorskip("symroof.analysis")
        assert analysis.intensity_limit(symbolic, "B").value == limit


@settings(max_examples=40, deadline=None)
@given(a=archs(), preset=PRESET, cached=st.integers(0, 64), new=st.integers(1, 4), batch=st.integers(1, 256))
def test_decode_intensity_is_bounded_by_the_weights_free_intensity(a, preset, cached, new, batch):
    arch = to_arch(a)
    assume(not touched(arch, preset))
    cost = symroof.step(arch, preset, B=batch, S_i=new, S_c=cached)
    symbolic = symroof.step(arch, preset, B=sym.B, S_i=new, S_c=cached)
    # the bytes a step moves whatever its batch: the weights (under ``exact`` less the embedding rows
    # a lookup gathers, which grow with B)
    weights = sympy.Poly(symbolic.bytes, sym.B).coeff_monomial(1)
    assert 0 < weights <= cost.bytes_of("weights")
    other = cost.bytes - weights
    limit = limit_in_b(symbolic.flops, symbolic.bytes)
    if other == 0:                          # 003: weights only, intensity grows without bound in B
        assert limit is sympy.oo
        return
    weights_free = cost.flops / other
    assert cost.intensity < weights_free
    assert limit == weights_free            # the same at every B: only the weights amortise
    assert symroof.step(arch, preset, B=batch + 1, S_i=new, S_c=cached).intensity > cost.intensity


# ---- simplification preserves value -----------------------------------------------------------------------------

SYMBOLIC = symroof.Arch.symbolic()


@cache
def symbolic_forms(preset: str) -> dict[str, tuple[sympy.Expr, ...]]:
    cost = symroof.step(SYMBOLIC, preset)
    return {
        "flops": (cost.flops, sympy.factor(cost.flops), sympy.expand(cost.flops)),
        "bytes": (cost.bytes, sympy.factor(cost.bytes), sympy.expand(cost.bytes)),
        "intensity": (cost.intensity, sympy.cancel(cost.intensity), sympy.factor(cost.intensity),
                      sympy.simplify(cost.intensity)),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preset=PRESET, heads=st.integers(1, 8), head_dim=st.integers(1, 16), layers=st.integers(1, 4),
       vocab=st.integers(1, 500), z=st.fractions(Fraction(1, 10), Fraction(100), max_denominator=10),
       bw=st.sampled_from([Fraction(1, 2), 1, 2]), ba=st.sampled_from([1, 2, 4]), bkv=st.sampled_from([1, 2]),
       **SHAPES)
def test_simplified_forms_keep_the_value(preset, heads, head_dim, layers, vocab, z, bw, ba, bkv, batch, new,
                                         cached):
    if cached == 0 and decode_formula_only(preset):
        cached = 1          # see test_000_prefill_is_not_its_step_at_an_empty_cache
    hidden = heads * head_dim
    values = {sym.H: hidden, sym.n_h: heads, sym.N: layers, sym.V: vocab, sym.Z: sympy.Rational(z.numerator,
              z.denominator), sym.b_w: sympy.Rational(bw), sym.b_a: ba, sym.b_kv: bkv, sym.B: batch,
              sym.S_i: new, sym.S_c: cached}
    numeric = symroof.step(SYMBOLIC.replace(hidden=hidden, heads=heads, layers=layers, vocab=vocab,
                                            params_b=values[sym.Z], weight_bytes=values[sym.b_w], act_bytes=ba,
                                            kv_bytes=bkv),
                           preset, B=batch, S_i=new, S_c=cached)
    expected = {"flops": numeric.flops, "bytes": numeric.bytes, "intensity": numeric.intensity}
    for what, forms in symbolic_forms(preset).items():
        for form in forms:
            assert form.subs(values) == expected[what], (what, form)


def decode_formula_only(preset: str) -> bool:
    """Presets whose symbolic step is a decode formula, not valid at a literal S_c = 0."""
    conv = PRESETS[preset]
    return conv.keys == "cached" or conv.kv_write == "decode"


def test_000_prefill_is_not_its_step_at_an_empty_cache():
    """000 writes prefill and decode as two formulas: decode's scores count S_i·S_c pairs and its KV
    writes exist only in decode, but prefill's scores are the prompt over itself (4·B·S²·H per layer).
    So the symbolic step, substituted at S_c = 0, is not 000's prefill: ``step()`` with a literal 0 is.
    """
    arch = symroof.Arch.symbolic()
    at_zero = symroof.step(arch, "000").subs(S_c=0, S_i=sym.S)
    prefill = symroof.prefill(arch, "000")
    # 000: prefill FLOPs N(24·B·S·H² + 4·B·S²·H); the step at S_c = 0 lacks the 4·N·B·S²·H
    assert sympy.expand(prefill.flops - at_zero.flops) == 4 * sym.N * sym.B * sym.S**2 * sym.H
    # and counts K, V writes of the prompt (2 tensors · N·B·S·H·b_kv) that 000's prefill leaves out
    assert sympy.expand(at_zero.bytes - prefill.bytes) == 2 * sym.N * sym.B * sym.S * sym.H * sym.b_kv


# ---- compiled == symbolic ---------------------------------------------------------------------------------------


@cache
def compiled(preset: str, what: str):
    cost = symroof.decode(symroof.models.get("llama-3-8b"), preset)
    expr = getattr(cost, what)
    return expr, symroof.compile(expr)


@settings(max_examples=40, deadline=None)
@given(preset=PRESET, what=st.sampled_from(["flops", "bytes", "intensity"]), batch=st.integers(1, 4096),
       cached=st.integers(0, 131072))
def test_compiled_equals_symbolic(preset, what, batch, cached):
    if not hasattr(symroof, "compile"):
        pytest.skip("symroof.compile has not landed")
    expr, ev = compiled(preset, what)
    values = {"B": batch, "S_c": cached}
    args = {n: values[n] for n in ev.names}
    exact = expr.subs({sym.by_name(n): v for n, v in args.items()})
    got = ev.exact(**args)                  # a Python int or Fraction
    assert sympy.Rational(got.numerator, got.denominator) == exact
    assert float(ev(**args)) == pytest.approx(float(exact), rel=1e-12)


# ---- the command line never ends in a traceback -----------------------------------------------------------------

WORDS = ["report", "latex", "crossover", "models", "hardware", "frobnicate", "--model", "--hf-config", "--phase",
         "--batch", "--seq", "--cached", "--new", "--gpu", "--tp", "--conventions", "--json", "--help",
         "llama-3-8b", "gpt2", "mixtral-8x7b", "llama-4", "H100-SXM", "A100-80GB", "H1000", "prefill", "decode",
         "step", "0", "1", "2", "-1", "8", "1e3", "nan", "inf", "abc", "", "exact", "000", "matmul", "none",
         "no/such/config.json", "--", "-", "=", "--batch=4", "--seq=-2", "B=8", "__import__('os')"]


def run_cli(argv: list[str]) -> tuple[object, str]:
    from symroof.output.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, err.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=st.lists(st.sampled_from(WORDS), max_size=7))
def test_cli_fuzz_never_ends_in_a_traceback(argv):
    status, err = run_cli(argv)          # an exception escaping main fails the test with its traceback
    assert status in (0, 2, None), (argv, status, err)
    assert "Traceback" not in err, (argv, err)
    if status == 2:
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("symroof"), (argv, err)
