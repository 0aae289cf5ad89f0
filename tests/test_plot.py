"""Figures: the artists they hold, checked against numbers derived by hand in this file.

Llama-3-8B under the roofline-notes conventions (002's shapes: H 4096, n_kv·d_h 1024,
F 14336, n_h 32, d_h 128, 32 layers, fp16), decode of one token per sequence over S_c:
  FLOPs per token = 32·[2·4096·(4096 + 1024 + 1024 + 4096) + 3·2·4096·14336 + 2·2·32·128·(S_c + 1)]
                  = 13,959,168,000 + 524,288·S_c
  weights         = 32·(4096·10240 + 3·4096·14336)·2 = 13,958,643,712 bytes
  bytes per token = 32·[3·4096·2 (activations) + 2·1024·2 (K, V written) + 2·1024·2·S_c (read)]
                  = 917,504 + 131,072·S_c
"""

from fractions import Fraction

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from symroof.output import plot

# From Llama-3-8B's config.json (hidden_size 4096, 32 layers, 32 heads and 8 KV heads of head_dim 128,
# so n_kv·d_h = 1024; intermediate_size 14336; bf16, 2 bytes), per decoded token:
# FLOPs at S_c = 0, one key (its own), per layer:
#   q, k, v, o projections  2·4096·(4096 + 1024 + 1024 + 4096) = 2·4096·10240 =  83,886,080
#   gate, up, down          3·2·4096·14336                                    = 352,321,536
#   scores and values       2·2·32·128 over 1 key                             =      16,384
#   sum 436,224,000; × 32 layers = 13,959,168,000
# each cached token adds scores and values: 32 layers · 2·2·32·128 = 32 · 16,384 = 524,288 FLOPs
FLOPS_0, FLOPS_PER_CACHED = 13_959_168_000, 524_288
# weight matrices: 32 · (4096·10240 + 3·4096·14336) · 2 bytes = 32 · (41,943,040 + 176,160,768) · 2
#   = 32 · 218,103,808 · 2 = 13,958,643,712
WEIGHTS = 13_958_643_712
# bytes per sequence at S_c = 0, per layer: fused activations 3·4096·2 = 24,576 and the new K, V
# written 2·1024·2 = 4,096: 32 · 28,672 = 917,504; each cached K, V read: 32 · 2·1024·2 = 131,072
ACTIVATIONS = 32 * 3 * 4096 * 2           # 786,432 bytes per sequence, not split by tensor parallelism
BYTES_0, BYTES_PER_CACHED = 917_504, 131_072
A100 = (312e12, 2039e9)       # 000's A100-80GB: 312 TFLOP/s, 2039 GB/s
H100 = (989e12, 3350e9)       # 002's H100 SXM row: 989 TFLOP/s, 3,350 GB/s
A100_BALANCE = Fraction(312_000, 2039)


def intensity(B, S_c):
    return B * (FLOPS_0 + FLOPS_PER_CACHED * S_c) / (WEIGHTS + B * (BYTES_0 + BYTES_PER_CACHED * S_c))


def crossover_batch(S_c, balance):
    """I(B) = balance  <=>  B·f = balance·(W + B·b)  <=>  B = balance·W / (f − balance·b)."""
    f, b = FLOPS_0 + FLOPS_PER_CACHED * S_c, BYTES_0 + BYTES_PER_CACHED * S_c
    return balance * WEIGHTS / (f - balance * b)


def lines(fig, prefix):
    return {line.get_gid(): line for line in fig.axes[0].lines if (line.get_gid() or "").startswith(prefix)}


@pytest.fixture(autouse=True)
def no_pyplot_figures_left():
    yield
    assert plt.get_fignums() == [], "a plot function left a pyplot figure open"


def test_roofline_roofs_and_points():
    fig = plot.roofline(["A100-80GB", "H100-SXM"], ["llama-3-8b"], conventions="roofline-notes",
                        batch=1, seq=1024, context=0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "FLOP/byte" in ax.get_xlabel() and "TFLOP/s" in ax.get_ylabel()
    roofs = lines(fig, "roof:")
    for name, (peak, bw) in (("A100-80GB", A100), ("H100-SXM", H100)):
        x, y = roofs[f"roof:{name}"].get_data()
        np.testing.assert_allclose(y, np.minimum(peak, bw * x) / 1e12, rtol=1e-12)
        assert y.max() == pytest.approx(peak / 1e12)
    points = lines(fig, "point:")
    assert len(points) == 4   # prefill and decode, on each of two roofs
    decode = points["point:llama-3-8b/decode:A100-80GB"]
    i = float(intensity(1, 0))
    assert decode.get_xdata()[0] == pytest.approx(i, rel=1e-12)
    assert decode.get_ydata()[0] == pytest.approx(min(A100[0], i * A100[1]) / 1e12, rel=1e-12)
    # prefill of 1024 tokens: FLOPs 32·[2·4096·10240·1024 + 6·4096·14336·1024 + 4·32·128·1024²] over
    # weights + 1024·917,504 bytes (K, V written, nothing read): far above both balances
    flops = 32 * (2 * 4096 * 10240 * 1024 + 6 * 4096 * 14336 * 1024 + 4 * 32 * 128 * 1024**2)
    prefill = points["point:llama-3-8b/prefill:H100-SXM"]
    assert prefill.get_xdata()[0] == pytest.approx(flops / (WEIGHTS + 1024 * BYTES_0), rel=1e-12)
    assert prefill.get_ydata()[0] == pytest.approx(H100[0] / 1e12)


def test_roofline_extra_points_and_bad_points():
    import symroof

    cost = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes", B=1, S_c=0)
    fig = plot.roofline("A100-80GB", points={"mine": cost})
    assert lines(fig, "point:")["point:mine:A100-80GB"].get_xdata()[0] == pytest.approx(float(intensity(1, 0)))
    with pytest.raises(ValueError, match="numbers only"):
        plot.roofline("A100-80GB", points={"symbolic": symroof.decode(symroof.models.get("llama-3-8b"))})


def test_intensity_vs_batch_balance_crossover_and_limit():
    fig = plot.intensity_vs_batch("llama-3-8b", "A100-80GB", conventions="roofline-notes", context=[0, 8192])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert "batch" in ax.get_xlabel() and "FLOP/byte" in ax.get_ylabel()
    balance = lines(fig, "balance:")["balance:A100-80GB"]
    np.testing.assert_allclose(balance.get_ydata(), float(A100_BALANCE), rtol=1e-15)   # ≈ 153 (000)
    crossings = lines(fig, "crossover:")
    # S_c = 0 crosses at B* ≈ 154.9; S_c = 8192 never does (its limit is ≈ 17 FLOP/byte)
    assert list(crossings) == ["crossover:llama-3-8b, $S_c$ = 0:A100-80GB"]
    marker = crossings["crossover:llama-3-8b, $S_c$ = 0:A100-80GB"]
    assert marker.get_xdata()[0] == pytest.approx(float(crossover_batch(0, A100_BALANCE)), rel=1e-12)
    assert marker.get_ydata()[0] == pytest.approx(float(A100_BALANCE))
    limit = (FLOPS_0 + FLOPS_PER_CACHED * 8192) / (BYTES_0 + BYTES_PER_CACHED * 8192)
    assert lines(fig, "limit:")["limit:llama-3-8b, $S_c$ = 8192"].get_ydata()[0] == pytest.approx(limit)
    curve = lines(fig, "intensity:")["intensity:llama-3-8b, $S_c$ = 8192"]
    x, y = curve.get_data()
    assert x[0] == 1 and x[-1] == 2048
    np.testing.assert_allclose(y, [float(intensity(Fraction(b), 8192)) for b in x], rtol=1e-12)


def test_intensity_vs_batch_two_gpus_two_crossovers():
    fig = plot.intensity_vs_batch("llama-3-8b", ["A100-80GB", "H100-SXM"], conventions="roofline-notes", context=0)
    h100_balance = Fraction(989_000, 3350)
    crossings = lines(fig, "crossover:")
    assert crossings["crossover:llama-3-8b, $S_c$ = 0:H100-SXM"].get_xdata()[0] == pytest.approx(
        float(crossover_batch(0, h100_balance)), rel=1e-12)


def test_time_per_token_terms():
    fig = plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=1024)
    ax = fig.axes[0]
    assert "ms" in ax.get_ylabel() and ax.get_yscale() == "log"
    t = lines(fig, "time:")
    peak, bw = H100
    x = t["time:weights"].get_xdata()
    np.testing.assert_allclose(t["time:weights"].get_ydata(), WEIGHTS / bw * 1e3, rtol=1e-12)   # ≈ 4.17 ms
    np.testing.assert_allclose(t["time:kv"].get_ydata(), x * (2 * 1024 * 2 * 32) * 1025 / bw * 1e3, rtol=1e-12)
    np.testing.assert_allclose(t["time:compute"].get_ydata(), x * (FLOPS_0 + FLOPS_PER_CACHED * 1024) / peak * 1e3,
                               rtol=1e-12)
    memory = (WEIGHTS + x * (BYTES_0 + BYTES_PER_CACHED * 1024)) / bw * 1e3
    np.testing.assert_allclose(t["time:total"].get_ydata(), memory, rtol=1e-12)   # memory-bound throughout
    assert "no crossover" in lines(fig, "crossover")["crossover"].get_label()


def test_time_per_token_with_tensor_parallelism_draws_the_comm_term():
    # T = 8 H100s (NVLink 450e9 B/s one way, hardware.toml), S_c = 1024, the conventions' comms
    # (roofline-notes: Megatron's ring all-reduces), per decode step of B sequences:
    #   compute  B·(FLOPS_0 + 1024·FLOPS_PER_CACHED) / (8·989e12)
    #   weights  WEIGHTS / 8 / 3350e9;  KV  B·(131,072 + 1024·131,072) / 8 / 3350e9
    #   activations B·786,432 / 3350e9 (every GPU moves the full hidden state)
    #   comm: 2·32 = 64 all-reduces, each GPU sending 2·7/8 of B·4096·2 bytes: B·917,504 / 450e9,
    #         plus NCCL's 6.6 µs + 14·0.6 µs = 15 µs per all-reduce: 64·15 µs = 0.96 ms
    fig = plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=1024, tp=8,
                              batches=[1, 8, 64, 512])
    t = lines(fig, "time:")
    peak, bw = H100
    x = t["time:total"].get_xdata()
    compute = x * (FLOPS_0 + FLOPS_PER_CACHED * 1024) / (8 * peak) * 1e3
    weights, kv = WEIGHTS / 8 / bw * 1e3, x * BYTES_PER_CACHED * 1025 / 8 / bw * 1e3
    activations = x * ACTIVATIONS / bw * 1e3
    comm = (x * 917_504 / 450e9 + 64 * 15e-6) * 1e3
    np.testing.assert_allclose(t["time:compute"].get_ydata(), compute, rtol=1e-12)
    np.testing.assert_allclose(t["time:weights"].get_ydata(), weights, rtol=1e-12)
    np.testing.assert_allclose(t["time:kv"].get_ydata(), kv, rtol=1e-12)
    np.testing.assert_allclose(t["time:activations"].get_ydata(), activations, rtol=1e-12)
    np.testing.assert_allclose(t["time:comm"].get_ydata(), comm, rtol=1e-12)
    total = np.maximum(compute, weights + kv + activations) + comm
    np.testing.assert_allclose(t["time:total"].get_ydata(), total, rtol=1e-12)
    assert "T = 8" in fig.axes[0].get_title() and "allreduce" in t["time:comm"].get_label()
    # 003's model on request: 32 layers · 4 messages · 10 µs, plus B·32·4·4096 bf16 values of 2 bytes / 450e9
    seed = lines(plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=1024,
                                     tp=8, comm="003", batches=[1, 8]), "time:comm")["time:comm"]
    np.testing.assert_allclose(seed.get_ydata(),
                               (32 * 4 * 1e-5 + seed.get_xdata() * 2 * 32 * 4 * 4096 / 450e9) * 1e3, rtol=1e-12)
    # no communication on one GPU, or with comm="none"
    assert "time:comm" not in lines(plot.time_per_token("llama-3-8b", "H100-SXM", tp=1), "time:")
    silent = lines(plot.time_per_token("llama-3-8b", "H100-SXM", tp=8, comm="none"), "time:")
    assert "time:comm" not in silent and "comm" not in silent["time:total"].get_label()
    assert t["time:total"].get_label() == "step: max(compute, memory) + comm"


def test_time_per_token_crossover_on_tensor_parallel_gpus_is_where_the_drawn_curves_meet():
    # T = 8 H100s at S_c = 0: compute B·FLOPS_0/(8π) meets memory (WEIGHTS/8 + B·131,072/8 + B·ACTIVATIONS)/β
    # (the K, V written, BYTES_0 − ACTIVATIONS = 131,072, is split; the activations are not):
    #   B·(FLOPS_0 − balance·(131,072 + 8·ACTIVATIONS)) = balance·WEIGHTS, balance = 989e12/3350e9 = 19780/67,
    # about 341.6, not the one-GPU intensity crossover (about 301.1)
    balance = Fraction(19780, 67)
    expected = balance * WEIGHTS / (FLOPS_0 - balance * (BYTES_0 - ACTIVATIONS + 8 * ACTIVATIONS))
    fig = plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=0, tp=8, comm="none")
    assert lines(fig, "crossover")["crossover"].get_xdata()[0] == pytest.approx(float(expected), rel=1e-12)
    assert round(float(expected), 1) == 341.6 and round(float(crossover_batch(0, balance)), 1) == 301.1
    # the same rule at T = 1 is the intensity's crossover
    fig = plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=0)
    assert lines(fig, "crossover")["crossover"].get_xdata()[0] == pytest.approx(float(crossover_batch(0, balance)),
                                                                                 rel=1e-12)


def test_time_per_token_marks_the_crossover_and_amortises_per_batch():
    fig = plot.time_per_token("llama-3-8b", "A100-80GB", conventions="roofline-notes", context=0, per="batch")
    line = lines(fig, "crossover")["crossover"]
    assert line.get_xdata()[0] == pytest.approx(float(crossover_batch(0, A100_BALANCE)), rel=1e-12)
    weights = lines(fig, "time:weights")["time:weights"]
    np.testing.assert_allclose(weights.get_ydata(), WEIGHTS / A100[1] * 1e3 / weights.get_xdata(), rtol=1e-12)


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_figures_save(fmt, magic, tmp_path):
    fig = plot.intensity_vs_batch("llama-3-8b", "H100-SXM", conventions="roofline-notes", batches=[1, 2, 4, 8])
    path = tmp_path / f"figure.{fmt}"
    fig.savefig(path)
    assert path.read_bytes().startswith(magic)


def test_draws_into_a_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot.time_per_token("llama-3-8b", "H100-SXM", ax=right) is fig
    assert not left.lines and right.lines


@pytest.mark.parametrize("call, message", [
    (lambda: plot.roofline("Z80", "llama-3-8b"), "unknown GPU"),
    (lambda: plot.roofline([], "llama-3-8b"), "at least one GPU"),
    (lambda: plot.roofline("H100", "llama-3-8b", batch=0), "batch=0"),
    (lambda: plot.roofline("H100", "nope-7b"), "unknown model"),
    (lambda: plot.intensity_vs_batch("llama-3-8b", "H100", phase="train"), "phase='train'"),
    (lambda: plot.intensity_vs_batch("llama-3-8b", "H100", batches=[0, 4]), "batches="),
    (lambda: plot.intensity_vs_batch("llama-3-8b", "H100", batches=[1.5, 4]), "whole batch sizes"),
    (lambda: plot.intensity_vs_batch("llama-3-8b", "H100", context=-1), "context=-1"),
    (lambda: plot.intensity_vs_batch([], "H100"), "at least one model"),
    (lambda: plot.time_per_token("llama-3-8b", "H100", per="year"), "per='year'"),
    (lambda: plot.time_per_token("llama-3-8b", "H100", new_tokens=0), "new_tokens=0"),
    (lambda: plot.time_per_token("llama-3-8b", "H100", tp=0), "tp=0"),
    (lambda: plot.time_per_token("llama-3-8b", "H100", tp=2, comm="nccl"), "comm='nccl'"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- figures a paper can use ---------------------------------------------------------------------
def _drawn_texts(fig):
    """Every text matplotlib draws: titles, labels, legend entries, annotations and the tick labels in view."""
    import itertools  # noqa: F401

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ticks, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for text in (tick.label1, tick.label2):
                    ticks.add(id(text))
                    if text.get_visible() and lo * (1 - 1e-9) <= tick.get_loc() <= hi * (1 + 1e-9):
                        drawn.add(id(text))
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and (id(t) not in ticks or id(t) in drawn)]


def _overlapping(fig):
    import itertools

    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(_drawn_texts(fig), 2)
            if box_a.overlaps(box_b)]


SEVERAL = ["llama-3-8b", "llama-2-7b", "mistral-7b", "qwen2.5-7b"]   # four 7-8B models: B* a few apart


@pytest.mark.parametrize("kind", ["roofline", "intensity_vs_batch", "intensity_prefill", "time_per_token",
                                  "time_per_token_tp"])
def test_no_text_is_drawn_over_another(kind):
    gpus = ["H100-SXM", "A100-80GB"]
    fig = {
        "roofline": lambda: plot.roofline(gpus, SEVERAL, conventions="roofline-notes"),
        "intensity_vs_batch": lambda: plot.intensity_vs_batch(SEVERAL, gpus, conventions="roofline-notes",
                                                              context=[0, 1024]),
        "intensity_prefill": lambda: plot.intensity_vs_batch(SEVERAL, gpus, phase="prefill", context=[1, 16]),
        "time_per_token": lambda: plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes"),
        "time_per_token_tp": lambda: plot.time_per_token("llama-2-13b", "A100-80GB", tp=4),
    }[kind]()
    texts = _drawn_texts(fig)
    assert len(texts) > 10
    assert _overlapping(fig) == []
    # every B* label lies inside its axes
    frame = fig.axes[0].get_window_extent()
    for text in fig.axes[0].texts:
        box = text.get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def test_eight_crossover_labels_at_nearly_one_point_are_all_apart():
    # the four 7-8B models at S_c = 0 cross each balance within a few batches of each other (B* ≈ 155 on
    # the A100, ≈ 301 on the H100): eight labels, which must all be readable
    fig = plot.intensity_vs_batch(SEVERAL, ["H100-SXM", "A100-80GB"], conventions="roofline-notes", context=0)
    notes = [t for t in fig.axes[0].texts if t.get_text().startswith("$B^*$")]
    assert len(notes) == 8 and _overlapping(fig) == []


def test_legend_has_the_asymptote_and_the_ridge():
    fig = plot.intensity_vs_batch("llama-3-8b", "A100-80GB", conventions="roofline-notes", context=1024)
    entries = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # by hand (module doc): B → ∞ at S_c = 1024, (13,959,168,000 + 524,288·1024) / (917,504 + 131,072·1024)
    limit = (FLOPS_0 + FLOPS_PER_CACHED * 1024) / (BYTES_0 + BYTES_PER_CACHED * 1024)
    assert f"llama-3-8b, $S_c$ = 1024: limit as $B \\to \\infty$, {limit:.0f}" in entries
    assert "A100-80GB balance (ridge) 153 FLOP/byte" in entries
    roof = plot.roofline(["A100-80GB", "H100-SXM"], "llama-3-8b")
    labels = [t.get_text() for t in roof.axes[0].get_legend().get_texts()]
    assert r"ridge point: balance $\pi/\beta$" in labels
    ridges = lines(roof, "ridge:")
    # the ridge is at (balance, peak): 312e12 / 2039e9 FLOP/byte and 312 TFLOP/s
    assert ridges["ridge:A100-80GB"].get_xdata()[0] == pytest.approx(float(A100_BALANCE))
    assert ridges["ridge:A100-80GB"].get_ydata()[0] == pytest.approx(312)


def test_names_from_configs_are_clean_labels():
    import symroof

    arch = symroof.models.get("llama-3-8b").replace(name="meta-llama/Meta-Llama-3-8B\x1b[2J $x$")
    assert plot.label(arch.name) == r"Meta-Llama-3-8B[2J \$x\$"
    fig = plot.intensity_vs_batch(arch, "A100-80GB", conventions="roofline-notes", context=0)
    entries = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert r"Meta-Llama-3-8B[2J \$x\$, $S_c$ = 0" in entries
    assert not any("meta-llama/" in e or "\x1b" in e for e in entries)
    title = plot.time_per_token(arch, "A100-80GB").axes[0].get_title()
    assert title.startswith(r"Meta-Llama-3-8B[2J \$x\$ on A100-80GB")
    assert plot.label("") == "model" and plot.label("org/") == "org"


def test_default_size_and_resolution(tmp_path):
    fig = plot.roofline("A100-80GB", "llama-3-8b")
    assert tuple(fig.get_size_inches()) == (6.4, 4.8) and fig.dpi == 200
    path = tmp_path / "r.png"
    fig.savefig(path)                             # savefig uses the figure's 200 dpi: 1280 x 960 pixels
    assert plt.imread(path).shape[:2] == (960, 1280)
    small = plot.time_per_token("llama-3-8b", "H100-SXM", dpi=50)
    assert small.dpi == 50
    for bad in (0, True, "300", float("nan"), 10**6):
        with pytest.raises(ValueError, match="dpi="):
            plot.intensity_vs_batch("llama-3-8b", "A100-80GB", dpi=bad)


def test_efficiency_is_shown_in_the_roof_label():
    from symroof import hardware

    slow = hardware.get("A100-80GB").with_efficiency(flops=0.5)
    fig = plot.roofline(slow, "llama-3-8b")
    roof = lines(fig, "roof:")["roof:A100-80GB"]
    assert roof.get_label() == "A100-80GB (bf16): balance 77 FLOP/byte, at 50% of peak FLOP/s"   # 156e12/2039e9
    assert max(roof.get_ydata()) == pytest.approx(156)
