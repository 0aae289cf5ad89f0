"""Whole requests (issue 20): the closed forms against plain loops over the steps.

Every expected value here comes from a loop in the test that calls `symroof.step` (or
`symroof.time_per_output_token`, `symroof.latency`) at each ``S_c`` of the request, from
LLM-Viewer's published generate-task procedure applied by hand, or from a hand derivation;
never from the closed form itself.
"""

from __future__ import annotations

import pytest
import sympy

import symroof
from symroof.analysis.request import (
    dollars_per_million_tokens,
    joules_per_token,
    operator_time,
    request_report,
    request_time,
)
from symroof.cost.conventions import get
from symroof.cost.request import chunked_prefill, decode_steps, range_sum, request, shared_prefix_prefill
from symroof.model.layers import FFN, Attention, Layer
from symroof.symbols import B, C_p, S, S_c, S_g

H100 = symroof.hardware.get("H100-SXM")

# a Gemma-2-like stack: full and sliding layers alternating, with a window small enough to cross
MIXED = symroof.Arch(hidden=64, layers=4, heads=4, kv_heads=2, ffn_dim=128, vocab=100, name="mixed", layout=(
    (1, Layer(Attention(4, kv_heads=2, head_dim=16, window=16), FFN(128))),
    (1, Layer(Attention(4, kv_heads=2, head_dim=16), FFN(128))),
    (2, Layer(Attention(4, kv_heads=2, head_dim=16, window=16), FFN(128))),
))
CHUNKED = symroof.Arch(hidden=64, layers=2, heads=4, kv_heads=2, ffn_dim=128, vocab=100, name="chunked", layout=(
    (2, Layer(Attention(4, kv_heads=2, head_dim=16, chunk=8), FFN(128))),))


def loop_request(arch, conv, s, g, b):
    """The request as a loop: the prefill, then one `symroof.step` per decode step S_c = s..s+g-1."""
    total = symroof.prefill(arch, conv, B=b, S=s)
    for x in range(s, s + g):
        total = total + symroof.step(arch, conv, B=b, S_i=1, S_c=x)
    return total


MODELS = {
    "dense-mha": ("llama-2-7b", "exact"),
    "gqa": ("llama-3-8b", "exact"),
    "gqa-matmul": ("llama-3-8b", "matmul"),
    "gqa-000": ("llama-3-8b", "000"),
    "gqa-002": ("llama-3-8b", "002"),
    "gqa-003": ("llama-3-8b", "003"),
    "moe-all": ("mixtral-8x7b", get("exact").replace(experts_read="all")),
    "moe-touched": ("mixtral-8x7b", get("exact").replace(experts_read="touched")),
    "mla-naive": ("deepseek-v3", get("exact").replace(mla="naive", mla_prefill="same", experts_read="all")),
    "mla-absorbed": ("deepseek-v3", get("exact").replace(mla="absorbed", mla_prefill="naive")),
    "moe-touched-mla": ("deepseek-v3", get("exact").replace(experts_read="touched", mla="absorbed")),
    "sliding": ("mistral-7b", "exact"),
    "sliding-flash": ("mistral-7b", get("exact").replace(attention_kernel="flash")),
    "sliding-unfused": ("mistral-7b", get("exact").replace(attention_kernel="unfused", scores="dense")),
    "mixed-window": (MIXED, "exact"),
    "mixed-window-000": (MIXED, "000"),
}
SIZES = [(1, 1, 1), (7, 13, 3), (4090, 12, 2), (4100, 3, 1), (10, 20, 2)]


def _arch(name):
    return name if isinstance(name, symroof.Arch) else symroof.models.get(name)


@pytest.mark.parametrize("key", MODELS)
def test_request_closed_form_equals_the_loop(key):
    arch, conv = MODELS[key]
    arch = _arch(arch)
    closed = request(arch, conv)                    # symbolic S, S_g, B
    for s, g, b in SIZES:
        expected = loop_request(arch, conv, s, g, b)
        assert same(request(arch, conv, S=s, G=g, B=b), expected), (key, s, g, b)
        assert same(closed.subs(S=s, S_g=g, B=b), expected), (key, s, g, b)


def same(got, want) -> bool:
    """Equal term by term: exactly, or within 1e-40 where the experts a large batch touches are a
    60-digit Float (symroof.cost.moe.Missed) summed in another order."""
    if set(got.flop_terms) != set(want.flop_terms) or set(got.byte_terms) != set(want.byte_terms):
        return False
    for mine, theirs in ((got.flop_terms, want.flop_terms), (got.byte_terms, want.byte_terms)):
        for k, v in theirs.items():
            diff = sympy.nsimplify(mine[k]) - sympy.nsimplify(v) if (mine[k].has(sympy.Float) or v.has(sympy.Float)) \
                else mine[k] - v
            if not (diff == 0 or abs(sympy.N(diff, 70)) <= sympy.Float("1e-40") * abs(sympy.N(v, 70))):
                return False
    return True


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-3-8b", "mixtral-8x7b", "deepseek-v3"])
def test_full_attention_terms_are_polynomials_in_S_and_G(name):
    # every expert read: the experts a batch touches, (1 − k/E)^B, are no polynomial
    cost = request(symroof.models.get(name), get("exact").replace(experts_read="all"))
    for value in [*cost.flop_terms.values(), *cost.byte_terms.values()]:
        assert sympy.expand(value).is_polynomial(S, S_g, B), value


def test_sliding_window_sum_has_its_breakpoint_at_the_window():
    mistral = symroof.models.get("mistral-7b")
    kv = decode_steps(mistral, "exact", B=1).bytes_of("kv/read")
    assert kv.has(sympy.Min) or kv.has(sympy.Max)
    # by hand: each step reads min(S_c, 4095) cached tokens of 32 layers · 2 · 8 · 128 · 2 bytes
    per_token = 32 * 2 * 8 * 128 * 2
    for s, g in [(4000, 200), (4095, 1), (1, 5000), (5000, 7)]:
        assert kv.subs({S: s, S_g: g}) == per_token * sum(min(x, 4095) for x in range(s, s + g))


def test_chunked_attention_is_summed_exactly_with_numbers():
    for s, g, b in [(5, 20, 2), (8, 8, 1), (3, 1, 1)]:
        assert request(CHUNKED, "exact", S=s, G=g, B=b) == loop_request(CHUNKED, "exact", s, g, b)
    with pytest.raises(ValueError, match="no closed form"):
        request(CHUNKED, "exact")


def test_range_sum_by_hand():
    x, W = sympy.Symbol("x", integer=True, positive=True), symroof.symbols.W
    expr = sympy.Max(3 * x - 10, sympy.Min(x + 1, W))
    closed = range_sum(expr, x, S, S + S_g - 1)
    for s, g, w in [(1, 10, 4), (2, 3, 8), (5, 30, 6), (1, 1, 1)]:
        assert closed.subs({S: s, S_g: g, W: w}) == sum(max(3 * k - 10, min(k + 1, w)) for k in range(s, s + g))


# ---- chunked prefill and a shared prefix ----------------------------------------------------------------
@pytest.mark.parametrize("arch", ["llama-3-8b", "mistral-7b", MIXED])
def test_chunked_prefill_equals_its_chunks(arch):
    arch = _arch(arch)
    closed = chunked_prefill(arch, "exact")
    for s, c, b in [(64, 16, 2), (48, 8, 1), (32, 32, 3), (8192, 1024, 1)]:
        loop = sum((symroof.step(arch, "exact", B=b, S_i=c, S_c=j * c) for j in range(s // c)), symroof.Cost())
        assert chunked_prefill(arch, "exact", S=s, chunk=c, B=b) == loop
        assert closed.subs(S=s, C_p=c, B=b) == loop


def test_what_chunking_changes():
    """Causal pairs are the whole prompt's; the weights are read once per chunk; earlier chunks' KV is read."""
    llama = symroof.models.get("llama-3-8b")
    whole = symroof.prefill(llama, "exact", B=2, S=4096)
    chunks = chunked_prefill(llama, "exact", S=4096, chunk=512, B=2)
    assert chunks.flops_of("attention/scores") == whole.flops_of("attention/scores")
    assert chunks.bytes_of("weights/ffn") == 8 * whole.bytes_of("weights/ffn")
    per_token = 32 * 2 * 8 * 128 * 2                        # K and V of 32 layers
    assert chunks.bytes_of("kv/read") == 2 * per_token * sum(512 * j for j in range(8))
    assert whole.bytes_of("kv/read") == 0


def test_shared_prefix():
    llama = symroof.models.get("llama-3-8b")
    got = shared_prefix_prefill(llama, "exact", S=1000, prefix=800, B=4)
    assert got == symroof.prefill(llama, "exact", B=1, S=800) + symroof.step(llama, "exact", B=4, S_i=200, S_c=800)
    saved = symroof.prefill(llama, "exact", B=4, S=1000).flop_terms["ffn/up"] - got.flop_terms["ffn/up"]
    assert saved == 2 * 3 * 800 * 4096 * 14336 * 32          # (B − 1)·S_p tokens of ffn/up, by hand
    closed = shared_prefix_prefill(llama, "exact")
    assert closed.subs(S=1000, S_p=800, B=4) == got
    full = request(llama, "exact", S=1000, G=10, B=4, prefix=800)
    assert full == got + decode_steps(llama, "exact", S=1000, G=10, B=4)


# ---- time on the roofline ----------------------------------------------------------------------------------
TOY_GPU = symroof.hardware.custom("toy", 2e12, 1e11)       # balance 20: MIXED crosses it within a request

TIME_CASES = [
    ("llama-2-7b", H100, "exact", 20, 50, 512),           # compute-bound at first, memory-bound later
    ("llama-3-8b", H100, "exact", 100, 50, 8),
    ("mistral-7b", H100, "exact", 4050, 100, 64),
    ("deepseek-v3", "H200", get("exact").replace(mla="absorbed"), 100, 30, 256),
    (MIXED, TOY_GPU, "exact", 1, 40, 64),            # crosses the window (16) and the balance
    (MIXED, TOY_GPU, "exact", 5, 30, 32),
]


def _loop_steps(arch, conv, hw, s, g, b, tp=1):
    return [symroof.time_per_output_token(arch, conv, hw, B=b, S_c=x, tp=tp) for x in range(s, s + g)]


@pytest.mark.parametrize("case", range(len(TIME_CASES)))
def test_request_time_equals_the_step_by_step_sum(case):
    arch, hw, conv, s, g, b = TIME_CASES[case]
    arch = _arch(arch)
    steps = _loop_steps(arch, conv, hw, s, g, b)
    loop = sum(t.total_s for t in steps)
    ttft = symroof.time_to_first_token(arch, conv, hw, B=b, S=s).total_s
    t = request_time(arch, conv, hw, S=s, G=g, B=b)
    assert t.decode_s == loop
    assert t.ttft_s == ttft and t.total_s == ttft + loop
    assert t.tpot_s == loop / g and t.tokens_per_s == b * g / (ttft + loop)
    closed = request_time(arch, conv, hw, B=b)                 # symbolic S and G
    assert closed.decode_s.subs({S: s, S_g: g}) == loop
    # the mean-context approximation, by its definition: one step at S + G/2, times G
    step_at = symroof.decode(arch, conv, B=b, S_c=S_c)
    lat = symroof.latency(step_at, hw).total_s.subs(S_c, sympy.Rational(2 * s + g, 2))
    assert t.mean_context_error_s == g * lat - loop


def test_the_bound_switches_inside_the_request():
    """The sum crosses the balance: some steps compute-bound, later ones memory-bound."""
    for arch, hw, conv, s, g, b in (TIME_CASES[0], TIME_CASES[4]):
        bounds = {t.bound for t in _loop_steps(_arch(arch), conv, hw, s, g, b)}
        assert bounds == {"compute", "memory"}


def test_request_time_with_symbolic_batch():
    llama2 = symroof.models.get("llama-2-7b")
    t = request_time(llama2, "exact", H100, S=20, G=50)
    for b in (1, 64, 512, 2048):
        assert t.decode_s.subs(B, b) == sum(x.total_s for x in _loop_steps(llama2, "exact", H100, 20, 50, b))


def test_crossover_context_by_hand():
    """Llama-2-7B (MHA) at B = 512: compute 2·B·(P_m + 2·N·H·(S_c + 1))/π + LM head, memory
    (weights + B·S_c·4NH + writes + activations)/β: their difference is linear in S_c."""
    llama2 = symroof.models.get("llama-2-7b")
    t = request_time(llama2, "exact", H100, S=20, G=50, B=512)
    x = t.crossover_S_c
    step = symroof.latency(symroof.decode(llama2, "exact", B=512, S_c=S_c), H100)
    assert sympy.simplify((step.compute_s - step.memory_s).subs(S_c, x)) == 0
    assert 20 < x < 70
    # by hand from the config (32 layers, H = 32·128 = 4096, F 11008, V 32000; 6,738,415,616 parameters):
    # FLOPs per sequence 2·(32·(4H² + 3HF) + HV) + 32·2·2·4096·(S_c + 1); bytes the fp16 weights but the
    # embedding table, of which B rows are gathered, K and V (2·32·4096·2 = 524,288 bytes per token) of S_c
    # cached tokens read and one written, fused activations 3·32·H·2 per sequence
    b, kv = 512, 2 * 32 * 4096 * 2
    pi, beta = sympy.Integer(989 * 10**12), sympy.Integer(3350 * 10**9)
    a = b * (2 * (32 * (4 * 4096**2 + 3 * 4096 * 11008) + 4096 * 32000) + 32 * 2 * 2 * 4096) / pi   # compute at S_c = 0
    a_slope = b * 32 * 2 * 2 * 4096 / pi
    c = (2 * (6_738_415_616 - 32000 * 4096) + b * (2 * 4096 + kv + 3 * 32 * 4096 * 2)) / beta       # memory at S_c = 0
    c_slope = b * kv / beta
    assert x == (c - a) / (a_slope - c_slope)


def test_mean_context_error_in_one_regime_is_half_a_slope_per_step():
    """Memory-bound throughout (Llama-3-8B at B = 8): the step is a + b·S_c, so the steps sum to
    G·a + b·(G·S + G(G−1)/2) and the approximation G·(a + b·(S + G/2)) exceeds it by b·G/2."""
    llama = symroof.models.get("llama-3-8b")
    t = request_time(llama, "exact", H100, S=100, G=50, B=8)
    steps = _loop_steps(llama, "exact", H100, 100, 50, 8)
    slope = steps[1].total_s - steps[0].total_s
    assert {s.bound for s in steps} == {"memory"}
    assert t.mean_context_error_s == slope * 50 / 2


def test_chunked_prefill_time():
    llama = symroof.models.get("llama-3-8b")
    t = request_time(llama, "exact", H100, S=4096, G=10, B=2, chunk=1024)
    loop = sum(symroof.latency(symroof.step(llama, "exact", B=2, S_i=1024, S_c=1024 * j), H100).total_s
               for j in range(4))
    assert t.ttft_s == loop
    assert request_time(llama, "exact", H100, G=10, B=2, chunk=C_p).ttft_s.subs({S: 4096, C_p: 1024}) == loop


def test_tensor_parallel_request_time_adds_each_steps_communication():
    llama = symroof.models.get("llama-3-8b")
    t = request_time(llama, "exact", H100, S=128, G=16, B=4, tp=2)
    assert t.decode_s == sum(x.total_s for x in _loop_steps(llama, "exact", H100, 128, 16, 4, tp=2))


# ---- the per-operator roofline, and LLM-Viewer's generate task -------------------------------------------
def llm_viewer_operator(name, kind):
    """The test's own pairing of symroof's terms into LLM-Viewer-like operators: one per weight matrix
    (FLOPs and its weights), one fused attention (scores, values and the KV cache), the rest alone."""
    if name in ("attention/scores", "attention/values", "kv/read", "kv/write"):
        return "fused_attention"
    return name[len("weights/"):] if name.startswith("weights/") else name


def llm_viewer_time(cost, hw):
    """LLM-Viewer's roofline_analyze per operator: inference_time = OPs / min(max_OPS, intensity·bandwidth),
    i.e. max(OPs/max_OPS, bytes/bandwidth); an operator without OPs takes bytes/bandwidth."""
    ops, moved = {}, {}
    for n, v in cost.flop_terms.items():
        ops[llm_viewer_operator(n, "flops")] = ops.get(llm_viewer_operator(n, "flops"), 0) + v
    for n, v in cost.byte_terms.items():
        moved[llm_viewer_operator(n, "bytes")] = moved.get(llm_viewer_operator(n, "bytes"), 0) + v
    total = sympy.Integer(0)
    for op in {*ops, *moved}:
        o, m = sympy.sympify(ops.get(op, 0)), sympy.sympify(moved.get(op, 0))
        if o == 0:
            total += m / hw.bandwidth
        else:
            performance = sympy.Min(hw.peak_flops, o / m * hw.bandwidth) if m else hw.peak_flops
            total += o / performance
    return total


@pytest.mark.parametrize("name,s,g,b", [("llama-3-8b", 128, 32, 16), ("llama-2-7b", 20, 50, 512),
                                        ("mistral-7b", 4080, 30, 4)])
def test_llm_viewer_generate_task_equals_the_closed_form(name, s, g, b):
    """hahnyuan/LLM-Viewer, analyzers/llm_analyzer.py, analyze_generate_task:
    inference_time = prefill(prompt_len) + Σ_{i = prompt_len}^{prompt_len + gen_len − 1} decode(i),
    each the sum over operators of OPs/performance. Applied here to symroof's terms of each step."""
    arch = symroof.models.get(name)
    inference_time = llm_viewer_time(symroof.prefill(arch, "exact", B=b, S=s), H100)
    for i in range(s, s + g):
        inference_time += llm_viewer_time(symroof.decode(arch, "exact", B=b, S_c=i), H100)
    got = operator_time(arch, "exact", H100, S=s, G=g, B=b)
    assert got.per_operator_s == inference_time
    closed = operator_time(arch, "exact", H100, B=b)
    assert closed.per_operator_s.subs({S: s, S_g: g}) == inference_time
    roofline = request_time(arch, "exact", H100, S=s, G=g, B=b).total_s
    assert got.operator_gap_s == inference_time - roofline and got.operator_gap_s >= 0


def test_operator_gap_vanishes_without_overlap():
    """With latency = compute + memory (no overlap) a sum of sums is the same either way."""
    llama = symroof.models.get("llama-3-8b")
    assert operator_time(llama, "exact", H100, S=64, G=8, B=4, model="sum").operator_gap_s == 0


# ---- cost and energy, and the report ------------------------------------------------------------------------
def test_cost_and_energy_by_hand():
    assert dollars_per_million_tokens(3600, 10**6, price_per_gpu_hour=2, gpus=8) == 16
    assert joules_per_token(1, 100, board_power_w=700, gpus=1) == 7
    assert symroof.hardware.get("H100-SXM").board_power_w == 700   # datasheet TDP


def test_request_report_values():
    llama = symroof.models.get("llama-3-8b")
    r = request_report(llama, "exact", "H100-SXM", S=512, G=64, B=8, tp=2, price_per_gpu_hour=3)
    t = request_time(llama, "exact", H100, S=512, G=64, B=8, tp=2)
    assert r["total_s"] == t.total_s and r["flops"] == loop_request(llama, "exact", 512, 64, 8).flops
    assert r["dollars_per_million_tokens"] == 3 * 2 * t.total_s / 3600 / (8 * 64) * 10**6
    assert r["joules_per_token"] == 700 * 2 * t.total_s / (8 * 64)
    assert request_report(llama, "exact", "L4", S=8, G=2)["joules_per_token"] is None


@pytest.mark.parametrize("kwargs,match", [
    ({"G": 0}, "G=0"), ({"S": -1}, "S=-1"), ({"B": 1.5}, "B=1.5"),
    ({"S": 100, "chunk": 30}, "chunk=30 must divide S=100"), ({"S": 100, "prefix": 100}, "prefix=100"),
    ({"chunk": 2, "prefix": 1}, "not both"),
])
def test_bad_input(kwargs, match):
    llama = symroof.models.get("llama-3-8b")
    with pytest.raises(ValueError, match=match):
        request(llama, "exact", **{"S": 8, "G": 2, "B": 1, **kwargs})


def test_request_latex_lines_are_the_closed_forms():
    from symroof.analysis.request import request_latex
    lines = request_latex(symroof.models.get("mistral-7b"), "exact", B=1)
    assert [line.split(" = ")[0] for line in lines] == [
        r"\text{FLOPs}_\text{request}", r"\text{bytes}_\text{request}", r"\text{KV bytes}_\text{request}"]
    assert r"\min" in lines[2] and "S_{g}" in lines[2]
