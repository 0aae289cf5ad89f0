"""Seed 003, kipply's "Transformer Inference Performance Arithmetic", rebuilt with symroof.

Parameter counts come from `symroof.params`, FLOPs and bytes from the components and phases,
and every latency, communication and capacity figure from `symroof.analysis` (``latency``,
``time_per_output_token``, ``tp_communication``, ``kv_capacity``, ``balance``, ``crossover_batch``)
under the post's conventions (preset ``inference-arithmetic``: 2·P FLOPs per token, 2·P weight
bytes, max(compute, memory) + comms). The post's A100 is 312e12 FLOP/s with 1.5e12 B/s (its
rounding of the datasheet's 1,555 GB/s); both are shown.

    python derivations/seed_003.py            # the derivation as text
    python derivations/seed_003.py --latex    # as a LaTeX document
"""

from __future__ import annotations

import sys

import sympy

import symroof
from symroof import analysis, components, hardware, models
from symroof.model.params import layer_parameters, model_parameters, total_parameters
from symroof.output.derivation import Derivation, format_number, run
from symroof.symbols import B, H, N, S_c, T, Z, d_h, n_h

#: the seed file of the document; the tests find it in $SYMROOF_SEEDS (default ../shared/seeds)
DOCUMENTS = ("003_9e198411fc46d055.txt",)
SOURCE = "kipply, kipp.ly/transformer-inference-arithmetic; seed file " + DOCUMENTS[0]
TITLE = "Seed 003: Transformer Inference Performance Arithmetic (kipply)"

# the post's own symbols for the accelerator: flops, memory bandwidth, comms bandwidth
A_f, A_bm, A_c = sympy.symbols("A_f A_bm A_c", positive=True)
n_ctx = sympy.Symbol("n_ctx", positive=True, integer=True)

# 003's A100 in its kv-cache section: 312e12 FLOP/s and 1.5e12 B/s; its capacity table: 40GB and
# 300GB/s of interconnect
A100_003 = symroof.Hardware(
    "A100 40GB (003: 1.5e12 B/s)", {"bf16": 312e12}, 1.5e12, capacity_bytes=40e9, interconnect_bytes_per_s=300e9,
    source="003: 312e12 FLOP/s and 1.5e12 B/s (the datasheet's 1,555 GB/s, rounded down), 40 GB, 300 GB/s")
SYMBOLIC = symroof.Hardware("A (003's symbols)", {"bf16": A_f}, A_bm, interconnect_bytes_per_s=A_c)

COMMS_UNITS = ("B·n_layers·4·d_model counts elements, but A_c is bytes per second: each bf16 element is "
               "2 bytes, which doubles the throughput time")


def kv_cost(arch: symroof.Arch, tokens: object) -> symroof.Cost:
    """Computing k and v for ``tokens`` tokens: the W_k, W_v matmuls and reading those weights."""
    conv = symroof.conventions.get("roofline-notes")      # weight bytes of the layer matrices
    proj = components.attention_projections(arch, conv, components.Step(sympy.sympify(tokens), 1, 0))
    keep = ("attention/k", "attention/v")
    return arch.layers * symroof.Cost({k: proj.flop_terms[k] for k in keep},
                                      {f"weights/{k}": proj.byte_terms[f"weights/{k}"] for k in keep})


def ms(seconds: sympy.Expr) -> str:
    return format_number(seconds * 1000) + " ms"


def build() -> Derivation:
    kipply = models.get("kipply-52b")
    gopher = models.get("gopher-280b").replace(params_b=260)   # 003 drops the 20B positional parameters
    conv = symroof.conventions.get("inference-arithmetic")
    sheet = hardware.get("A100-40GB")                          # the datasheet's 1,555 GB/s
    # 003 counts "40GB" and "80GB" as 10^9 bytes each and fills all of it; the parts have 40 and 80 GiB
    post = {gb: hardware.get(f"A100-{gb}GB").replace(
        capacity_bytes=gb * 10**9, usable_fraction=1,
        source=f"003's table: {gb}e9 bytes, all usable (the part has {gb} GiB)") for gb in (40, 80)}
    d = Derivation(TITLE, SOURCE)

    # ---- parameter counting ------------------------------------------------------------------
    d.section("Parameter counting", where="parameter counting")
    d.claim("params/two-bytes", "bytes per parameter (half-precision training)", "2", kipply.weight_bytes,
            unit="bytes", rounding="exact", as_printed="two bytes")
    d.claim("params/mlp-ratio", "FFN width over model width", "4", kipply.ffn_dim / kipply.hidden, rounding="exact",
            note="preset kipply-52b: ffn_dim 32768")
    d.claim("params/heads", "heads × head width, equal to the model width", "8192", kipply.q_width, rounding="exact",
            as_printed=r"n_\text{heads}\cdot d_\text{head} = d_\text{model}", note="preset kipply-52b: 64 heads of 128")
    mha = symroof.Arch(hidden=H, layers=N, heads=n_h, head_dim=d_h, ffn_dim=4 * H, vocab=sympy.Symbol("V"))
    per = layer_parameters(mha, biases=False, norms=False)
    for label, about, printed, value, typeset in [
        ("params/W_q", "parameters of W_q", H * n_h * d_h, per["attention/q"],
         r"d_\text{model} \cdot n_\text{heads}\cdot d_\text{head}"),
        ("params/W_k", "parameters of W_k", H * n_h * d_h, per["attention/k"],
         r"d_\text{model} \cdot n_\text{heads}\cdot d_\text{head}"),
        ("params/W_o", "parameters of W_o", H * n_h * d_h, per["attention/out"],
         r"d_\text{model}\cdot n_\text{heads}\cdot d_\text{head}"),
        ("params/mlp", "parameters of the two MLP matrices", 2 * 4 * H**2, per["ffn/up"] + per["ffn/down"],
         r"{d_\text{model}}^2 \cdot 4"),
    ]:
        d.claim(label, about, printed, value, as_printed=typeset)
    gpt3_13b = symroof.Arch(hidden=5140, layers=40, heads=40, head_dim=128)
    d.claim("params/gpt3-13b", "GPT-3 13B: model width minus heads × head width", "20",
            gpt3_13b.hidden - gpt3_13b.q_width, rounding="exact",
            note="GPT-3 paper (arXiv 2005.14165) Table 2.1, 13B: d_model 5140, n_heads 40, d_head 128 (5120)")
    gpt = symroof.Arch.symbolic()
    d.claim("params/P", "parameters of the layers, P", 12 * N * H**2,
            total_parameters(gpt, embeddings=False, biases=False, norms=False),
            as_printed=r"P = 12 \cdot n_\text{layers} \cdot {d_\text{model}}^2")
    d.claim("params/52b-d_model", "model width of Anthropic's 52B", "8192", kipply.hidden, rounding="exact")
    d.claim("params/52b-n_layers", "layers of Anthropic's 52B", "64", kipply.layers, rounding="exact")
    core = total_parameters(kipply, embeddings=False, biases=False, norms=False)
    d.claim("params/52b-core", "52B: 12 · layers · width², evaluated", "51,539,607,552", core, unit="params",
            rounding="exact")
    embedding = model_parameters(kipply)["embedding"]
    d.claim("params/embedding", "52B: token embedding, vocabulary 65536 × width", "536,870,912", embedding,
            unit="params", rounding="exact")
    with_embedding = total_parameters(kipply.replace(tied_embeddings=True), biases=False, norms=False)
    d.claim("params/with-embedding", "52B: layers plus one embedding", "52,076,478,464", with_embedding,
            unit="params", rounding="exact")
    every = total_parameters(kipply, biases=False, norms=False)
    d.claim("params/with-unembedding", "52B: layers plus embedding and unembedding", "52.5", every, unit="billion",
            kind="rounding",
            cause="51,539,607,552 + 2·536,870,912 = 52,613,349,376, about 52.6B (parameters, not tokens)")
    norm = layer_parameters(symroof.Arch.symbolic(norm="layernorm"), biases=False)["norm"] / 2
    d.claim("params/layernorm", "parameters of one layer norm", 2 * H, norm, as_printed=r"2\cdot d_\text{model}",
            note="per norm (gain and bias); a layer has two")
    positional = model_parameters(symroof.Arch.symbolic(max_positions=n_ctx))["positions"]
    d.claim("params/positions", "a learned position table (GPT-2, the original transformer)", n_ctx * H, positional,
            as_printed=r"n_\text{ctx}\cdot d_\text{model}")
    gopher280 = models.get("gopher-280b")
    gopher_core = total_parameters(gopher280, biases=False, norms=False)
    d.claim("params/gopher-positional", "Gopher 280B: parameters of its relative position encoding", "20",
            gopher280.params_b * 10**9 - gopher_core, unit="billion", rounding="sig:1",
            note=f"280B minus 12·80·16384² + 32000·16384 = {format_number(gopher_core)}: 21.8B; Transformer-XL's "
                 "per-layer position projection, 80·16384², is 21.5B")

    # ---- kv cache --------------------------------------------------------------------------------
    d.section("The kv cache", where="kv cache")
    d.claim("kv/bytes-per-token", "KV-cache bytes per token", 2 * N * n_h * d_h * 2,
            mha.replace(kv_bytes=2).kv_elements_per_token * 2,
            as_printed=r"2\cdot n_\text{layers} \cdot n_\text{heads} \cdot d_\text{head} \cdot 2")
    sym_kv = kv_cost(gpt.replace(weight_bytes=2), 1)
    d.claim("kv/flops", "FLOPs of k and v for one token, all layers", N * 2 * H**2 * 2, sym_kv.flops,
            as_printed=r"n_\text{layers} \cdot 2 \cdot {d_\text{model}}^2\cdot 2")
    d.claim("kv/flops-k", "FLOPs of k alone, one layer", 2 * H**2, sym_kv.flop_terms["attention/k"] / N,
            as_printed=r"2 \cdot {d_\text{model}}^2")
    kv52 = kv_cost(kipply, 1)
    d.claim("kv/flops-52b", "52B: FLOPs of k and v for one token", "17,179,869,184", kv52.flops, unit="FLOPs",
            rounding="exact")
    d.claim("kv/weight-bytes", "bytes of the W_k and W_v weights, all layers", 2 * 2 * N * H**2, sym_kv.bytes,
            as_printed=r"2 \cdot 2 \cdot n_\text{layers} \cdot {d_\text{model}}^2")
    d.claim("kv/A100-flops", "A100 bf16 rate", "312", sheet.peak_flops, unit="TFLOP/s")
    d.claim("kv/A100-bandwidth", "A100 memory bandwidth", "1.5", sheet.bandwidth, unit="TB/s", kind="rounding",
            cause="the A100 40GB datasheet the post links gives 1,555 GB/s, 1.6e12 to two figures; the post's "
                  "208, 11.4 ms and 22 ms all use 1.5e12 (3.5% less bandwidth)")
    t_sym = analysis.latency(sym_kv, SYMBOLIC)
    d.claim("kv/memory-time", "time to read the k, v weights", 2 * 2 * N * H**2 / A_bm, t_sym.memory_s,
            as_printed=r"\text{memory} = 2 \cdot 2 \cdot n_\text{layers} \cdot {d_\text{model}}^2 \div 1.5\text{e}12",
            note="A_bm = 1.5e12 in the post")
    d.claim("kv/compute-time", "time to compute k and v", N * 2 * H**2 * 2 / A_f, t_sym.compute_s,
            as_printed=r"\text{compute} = n_\text{layers} \cdot 2 \cdot {d_\text{model}}^2\cdot 2 \div 312\text{e}12",
            note="A_f = 312e12 in the post")
    t1 = analysis.latency(kv52, A100_003)
    d.claim("kv/ratio-208", "memory time over compute time for k and v", "208", t1.memory_s / t1.compute_s,
            rounding="exact",
            note=f"= balance(A100, 003) = {analysis.balance(A100_003)}; with the datasheet's 1,555 GB/s: "
                 f"{format_number(analysis.balance(sheet))}")
    cross = analysis.crossover_batch(kv_cost(kipply, B), A100_003)
    d.claim("kv/208-tokens", "tokens whose k, v cost no more time than one token's", "208", cross.value,
            unit="tokens", rounding="exact", note=cross.reason)
    d.claim("kv/11.4ms", "52B: time of the k, v computation on one A100", "11.4", t1.total_s, unit="ms",
            kind="rounding",
            cause="17,179,869,184 bytes / 1.5e12 B/s = 11.45 ms, which rounds to 11.5 (11.0 ms at the datasheet's "
                  "1,555 GB/s)")
    t4 = analysis.latency(kv52, A100_003, tp=4)
    d.claim("kv/4gpus", "52B: the same on four GPUs, below 3 ms", "under 3 ms",
            "under 3 ms" if t4.total_s < sympy.Rational(3, 1000) else ms(t4.total_s),
            as_printed="3 milliseconds", note=f"{ms(t4.total_s)} on four GPUs")
    tok52 = analysis.time_per_output_token(kipply, conv, A100_003, B=1, S_c=0, tp=4,
                                           bytes_per_element=kipply.act_bytes)  # comms in bytes: COMMS_UNITS
    d.claim("kv/20ms", "52B on four GPUs: time per generated token", "20", tok52.total_s, unit="ms",
            note=f"memory {ms(tok52.memory_s)} + comms {ms(tok52.comm_s)} (64·4·10 µs and the throughput term)")
    step_conv = conv.replace(flops="components", weights="matrices")   # the matmuls and their weights, not 2·P
    one = components.Step(sympy.Integer(1), 1, 0)
    layer_flops = components.layer(gpt, step_conv, one).flops
    d.claim("kv/one-sixth", "k, v FLOPs of a token over the FLOPs of a decode step", "1/6",
            sym_kv.flops / (N * layer_flops), rounding="exact",
            note="4·d_model² of 24·d_model² per layer (003's 2·P with P = 12·n_layers·d_model²)")

    # ---- capacity --------------------------------------------------------------------------------
    d.section("Capacity", where="capacity")
    for gpu_name, gb, gbps in (("A100 40GB SXM", "40", "1555"), ("A100 80GB SXM", "80", "2039")):
        gpu = post[int(gb)]
        d.claim(f"capacity/{gpu_name}/flops", f"{gpu_name}: bf16 rate", "312", gpu.peak_flops, unit="TFLOP/s")
        d.claim(f"capacity/{gpu_name}/capacity", f"{gpu_name}: memory size", gb, gpu.capacity, unit="GB",
                note=f"as 003 counts it ({gb}e9 bytes); the part has {gb} GiB = "
                     f"{format_number(hardware.get(f'A100-{gb}GB').capacity)} bytes")
        d.claim(f"capacity/{gpu_name}/bandwidth", f"{gpu_name}: memory bandwidth", gbps, gpu.bandwidth, unit="GB/s")
        d.claim(f"capacity/{gpu_name}/comms", f"{gpu_name}: interconnect, one direction", "300",
                gpu.interconnect_bytes_per_s, unit="GB/s")
    weights = with_embedding * kipply.weight_bytes
    d.claim("capacity/weights", "52B: weight bytes, layers and one embedding", "104,152,956,928", weights,
            unit="bytes", rounding="exact",
            note=f"with the unembedding the post counted above it would be {format_number(every * 2)} bytes "
                 "(105.2 GB)")
    d.claim("capacity/weights-GB", "52B: the same weights in GB", "104", weights, unit="GB")
    a80 = post[80]
    d.claim("capacity/one-gpu", "52B weights against one GPU's memory", "does not fit",
            "does not fit" if weights > a80.capacity else "fits", note="104.2 GB > 80 GB, even on the 80GB part")
    gpus = sympy.ceiling(weights / post[40].capacity)
    d.claim("capacity/three-gpus", "40GB GPUs needed to hold the weights", "3", gpus, unit="GPUs", rounding="exact",
            as_printed="three GPUs")
    cap3 = analysis.kv_capacity(kipply, post[40], gpus=3, weight_bytes=weights, context=200)
    d.claim("capacity/16GB", "memory left for the KV cache on three GPUs", "16", cap3.free_bytes, unit="GB")
    d.claim("capacity/per-token", "52B: KV-cache bytes per token", "2,097,152", cap3.kv_bytes_per_token,
            unit="bytes", rounding="exact")
    d.claim("capacity/per-token-GB", "52B: the same per-token bytes in GB", "0.002", cap3.kv_bytes_per_token,
            unit="GB")
    d.claim("capacity/8000", "tokens the KV cache holds on three GPUs", "8000", cap3.tokens, unit="tokens",
            rounding="sig:1",
            note=f"exactly {format_number(cap3.tokens)} tokens (15.85 GB / 2,097,152 bytes); 7,629 with a round 16 GB")
    d.claim("capacity/batch-40", "sequences of 200 tokens the cache holds on three GPUs", "40", cap3.batch,
            unit="sequences", kind="rounding",
            cause="40 = 8000/200 uses the rounded 16 GB and 0.002 GB; 7,556 tokens hold 37 sequences of 200 "
                  "(38 with exactly 16 GB free)")
    cap4 = analysis.kv_capacity(kipply, post[40], gpus=4, weight_bytes=weights)
    d.claim("capacity/56GB", "memory left for the KV cache on four GPUs", "56", cap4.free_bytes, unit="GB")
    d.claim("capacity/23000", "tokens the KV cache holds on four GPUs", "23000", cap4.tokens, unit="tokens",
            rounding="sig:2",
            cause="56/0.002 = 28,000; exactly 55.85 GB / 2,097,152 bytes = 26,629 whole tokens (26,702 with 56 GB)")

    # ---- latency -----------------------------------------------------------------------------------
    d.section("Latency calculations (symroof.analysis)", where="latency calculations")
    d.remark("The post's N in these formulas is the number of accelerators: symroof's tensor-parallel degree T.")
    small = analysis.time_per_output_token(gpt.replace(weight_bytes=2), conv, SYMBOLIC, B=1, S_c=0, tp=T)
    d.claim("latency/small-compute", "small batch: time of one decoding step (memory-bound)",
            2 * Z * 10**9 / (T * A_bm), small.memory_s,
            as_printed=r"\text{compute} = \frac{2 \cdot P}{N \cdot A_\text{bm}}",
            note="a memory-bandwidth time, as the post explains")
    comm1 = analysis.tp_communication(gpt, SYMBOLIC, tp=T, tokens=1)
    d.claim("latency/small-comms", "small batch: communication latency", N * 4 * sympy.Rational(10, 10**6),
            comm1.latency_s, as_printed=r"\text{comms} = n_\text{layers} \cdot 4 \cdot 10\mu\text{s}")
    large = analysis.latency(symroof.decode(gpt.replace(weight_bytes=2), conv), SYMBOLIC, tp=T)
    d.claim("latency/large-compute", "large batch: compute time of one decoding step", B * 2 * Z * 10**9 / (T * A_f),
            large.compute_s, as_printed=r"\text{compute} = B \cdot \frac{2 \cdot P}{N \cdot A_f}")
    commB = analysis.tp_communication(gpt, SYMBOLIC, tp=T, tokens=B, bytes_per_element=2)  # 003: 16-bit values
    d.claim("latency/large-comms", "large batch: communication throughput time", B * N * 4 * H / A_c,
            commB.throughput_s,
            as_printed=r"\text{comms} = B \cdot  \frac{n_\text{layers} \cdot 4 \cdot d_\text{model}}{A_c}",
            cause=f"{COMMS_UNITS}: 2·B·n_layers·4·d_model / A_c (the Gopher and exercise numbers below "
                  "show the factor)")

    d.section("Gopher on 16 × A100 40GB SXM", where="latency calculations")
    for label, about, printed, value, unit in [
        ("gopher/d_model", "Gopher: model width", "16384", gopher.hidden, ""),
        ("gopher/n_layers", "Gopher: layers", "80", gopher.layers, ""),
        ("gopher/P", "Gopher: reported parameter count", "280", gopher280.params_b * 10**9, "billion"),
        ("gopher/A_f", "A100 bf16 rate, A_f", "312", sheet.peak_flops, "TFLOP/s"),
        ("gopher/A_c", "A100 interconnect, A_c", "300", sheet.interconnect_bytes_per_s, "GB/s"),
        ("gopher/A_bm", "A100 memory bandwidth, A_bm", "1,555", sheet.bandwidth, "GB/s"),
    ]:
        d.claim(label, about, printed, value, unit=unit, rounding="exact")
    g1 = analysis.time_per_output_token(gopher, conv, A100_003, B=1, S_c=0, tp=16,
                                        bytes_per_element=gopher.act_bytes)  # comms in bytes: COMMS_UNITS
    c1 = analysis.tp_communication(gopher, A100_003, tp=16, tokens=1)
    g1_sheet = analysis.time_per_output_token(gopher, conv, sheet, B=1, S_c=0, tp=16)
    d.claim("gopher/small-compute-s", "Gopher, batch 1: weight-streaming time, in seconds", "0.0217", g1.memory_s,
            unit="s", note=f"{ms(g1.memory_s)}; {ms(g1_sheet.memory_s)} at the datasheet's 1,555 GB/s")
    d.claim("gopher/small-compute", "Gopher, batch 1: the same time in ms", "22", g1.memory_s, unit="ms")
    layers_cause = ("n_layers is 80 (given three lines above); 128 is Gopher's head count: "
                    "80·4·10µs = 3,200 µs = 3.2 ms")
    d.claim("gopher/small-comms-us", "Gopher, batch 1: communication latency in µs", "5120", c1.latency_s,
            unit="µs", cause=layers_cause)
    d.claim("gopher/small-comms", "Gopher, batch 1: the same latency in ms", "5", c1.latency_s, unit="ms",
            cause="follows from n_layers = 128: 80·4·10 µs is 3.2 ms")
    d.claim("gopher/small-total", "Gopher, batch 1: time per generated token", "27", g1.total_s,
            unit="ms", cause=f"22 + 3.2 = 25 ms ({ms(g1.total_s)} with the small throughput term); 27 = 22 + 5 "
                             "carries the n_layers slip")
    g512 = analysis.time_per_output_token(gopher, conv, A100_003, B=512, S_c=0, tp=16)
    c512 = analysis.tp_communication(gopher, A100_003, tp=16, tokens=512)
    c512b = analysis.tp_communication(gopher, A100_003, tp=16, tokens=512, bytes_per_element=gopher.act_bytes)
    g512b = analysis.time_per_output_token(gopher, conv, A100_003, B=512, S_c=0, tp=16,
                                           bytes_per_element=gopher.act_bytes)
    d.claim("gopher/large-compute-s", "Gopher, batch 512: compute time, in seconds", "0.053", g512.compute_s,
            unit="s")
    d.claim("gopher/large-compute", "Gopher, batch 512: the same time in ms", "53", g512.compute_s, unit="ms")
    d.claim("gopher/large-comms", "Gopher, batch 512: communication throughput time", "9", c512b.throughput_s,
            unit="ms",
            cause=f"{COMMS_UNITS}: {ms(c512b.throughput_s)} (the post's element count gives "
                  f"{ms(c512.throughput_s)})")
    d.claim("gopher/large-total", "Gopher, batch 512: time per decoding step", "62", g512b.total_s, unit="ms",
            cause=f"with the comms in bytes, {ms(g512b.compute_s)} + {ms(c512b.throughput_s)} + the "
                  f"{ms(c512b.latency_s)} message latency the large-batch formula drops = {ms(g512b.total_s)}; "
                  f"the post's 53 + 9 = 62 counts elements",
            note=f"per token of the batch: {ms(g512b.per_token_s)}")
    rows = []
    for label, hw, width, batch in [
        ("small, post's figures", A100_003, None, 1), ("small, datasheet 1,555 GB/s", sheet, None, 1),
        ("large, post's figures", A100_003, None, 512), ("large, comms in bytes", A100_003, 2, 512),
        ("large, bytes and 1,555 GB/s", sheet, 2, 512),
    ]:
        t = analysis.time_per_output_token(gopher, conv, hw, B=batch, S_c=0, tp=16, bytes_per_element=width)
        rows.append((label, ms(t.compute_s), ms(t.memory_s), ms(t.comm_s), ms(t.total_s), t.bound))
    d.table("Gopher (260B) per decoding step on 16 GPUs: symroof.analysis.time_per_output_token",
            ("case", "compute", "memory", "comms", "total", "bound"), rows)

    ex = analysis.time_per_output_token(kipply, conv, A100_003, B=256, S_c=0, tp=4)
    exc = analysis.tp_communication(kipply, A100_003, tp=4, tokens=256)
    exb = analysis.tp_communication(kipply, A100_003, tp=4, tokens=256, bytes_per_element=kipply.act_bytes)
    d.claim("exercise/compute", "exercise, 52B on 4 GPUs at batch 256: compute time", "21", ex.compute_s, unit="ms")
    d.claim("exercise/comms", "exercise, 52B on 4 GPUs at batch 256: communication time", "2", exb.throughput_s,
            unit="ms", cause=f"{COMMS_UNITS}: {ms(exb.throughput_s)} (the element count gives {ms(exc.throughput_s)})")

    # ---- batch sizes ---------------------------------------------------------------------------------
    d.section("Batch sizes", where="batch sizes")
    decode = symroof.decode(kipply, conv)
    cross = analysis.crossover_batch(decode, A100_003)
    d.claim("batch/mislabelled", "the ratio A_bw/A_c given for the memory-bound batch limit", "208",
            A100_003.bandwidth / A100_003.interconnect_bytes_per_s, kind="label",
            cause="A_bw/A_c, memory over interconnect bandwidth, is 1.5e12/300e9 = 5; 208 is A_f/A_bm = "
                  "312e12/1.5e12, and decoding is memory-bound below that batch and flops-bound above it: "
                  "a maximum batch for memory-bound (the minimum for flops-bound)")
    d.claim("batch/208", "208 read as the batch where flops time equals memory time", "208", cross.value,
            unit="sequences", rounding="exact", note=cross.reason)
    d.claim("batch/one-sixth-memory", "k, v weight bytes over a layer's weight bytes", "1/6",
            sym_kv.bytes / (N * components.layer(gpt.replace(weight_bytes=2), step_conv, one).bytes),
            rounding="exact", note="memory: the W_k, W_v bytes over all the layer's weight bytes")

    # ---- flops counting --------------------------------------------------------------------------------
    d.section("Flops counting (per token, per layer)", where="flops counting")
    f = components.layer(gpt, step_conv, one).flop_terms
    d.claim("flops/qkv", "FLOPs of the q, k, v projections", H**2 * 2 * 3,
            f["attention/q"] + f["attention/k"] + f["attention/v"], as_printed=r"{d_\text{model}}^2 \cdot 2 \cdot 3")
    z = components.attention_scores(gpt, symroof.conventions.get("roofline-notes"), components.Step(1, 1, S_c))
    z = z + components.attention_values(gpt, symroof.conventions.get("roofline-notes"), components.Step(1, 1, S_c))
    d.formula("calculate z (symroof, S_c cached tokens)", sympy.factor(z.flops),
              note="a multiple of d_model, as the post says: 4·d_model per key; it matches the 24·d_model² of "
                   "the matmuls at S_c = 6·d_model")
    d.claim("flops/out", "FLOPs of the output projection", 2 * H**2, f["attention/out"],
            as_printed=r"2 \cdot {d_\text{model}}^2")
    d.claim("flops/W1-shape", "parameters of one MLP matrix, from its stated shape", 4 * H,
            layer_parameters(gpt, biases=False, norms=False)["ffn/up"],
            as_printed=r"W_1, W_2 \in \mathbb{R}^{4\times d_\text{model}}",
            cause="W_1 ∈ R^{d_model×4d_model} and W_2 ∈ R^{4d_model×d_model}: 4·d_model² parameters each, "
                  "not 4·d_model")
    d.claim("flops/ffn-terms", "MLP FLOPs term by term: first matmul, GeLU, second matmul",
            2 * H + 6 * H + 2 * H * 4 * H, f["ffn/up"] + f["ffn/down"],
            as_printed=r"(2\cdot d_\text{model}  + (6\cdot d_\text{model}) "
                       r"+ (2\cdot d_\text{model} \cdot 4\cdot d_\text{model})",
            cause="the first linear transform (d_model → 4·d_model) costs 2·d_model·4·d_model = 8·d_model², not "
                  "2·d_model; as printed the terms add to 8·d_model² + 8·d_model, not the 16·d_model² stated next")
    d.claim("flops/ffn", "FLOPs of the MLP", 16 * H**2, f["ffn/up"] + f["ffn/down"],
            as_printed=r"16 \cdot {d_\text{model}}^2")
    total_per_token = components.layer(gpt, step_conv, one).flops * N
    d.claim("flops/F", "FLOPs per token, all layers", N * 24 * H**2, total_per_token,
            as_printed=r"= n_\text{layers} \cdot 24 \cdot {d_\text{model}}^2")
    f52 = total_per_token.subs({N: 64, H: 8192})
    d.claim("flops/about-100B", "52B: FLOPs per token, roughly", "100", f52, unit="GFLOPs", rounding="sig:1")
    d.claim("flops/number", "52B: FLOPs per token, exactly", "103079215104", f52, unit="FLOPs", rounding="exact")
    as_printed = 64 * (24 * 8192**2 + 23 * 8192)
    d.claim("flops/expression", "52B: the FLOPs expression as written, evaluated", format_number(as_printed), f52,
            unit="FLOPs", rounding="exact", as_printed=r"F = 64\cdot(24\cdot 8192^2 + 23 \cdot 8192)",
            cause="the expression as printed is 64·(24·8192² + 23·8192) = 103,091,273,728; the number after it, "
                  "103,079,215,104, is 64·24·8192² alone: the 23·8192 term (vector work the text never derives) "
                  "is dropped")
    d.claim("flops/half", "52B: half the FLOPs per token, as a parameter count", "51.5", f52 / 2, unit="billion")
    d.claim("flops/instead-of-52", "52B: the nominal size", "52", kipply.params_b * 10**9, unit="billion",
            rounding="exact")
    d.claim("flops/51.5-params", "52B: parameters without the token embeddings", "51.5", core, unit="billion")
    d.claim("flops/half-billion", "52B: parameters of the token embedding", "0.5", embedding, unit="billion",
            as_printed="half a billion")
    share = 1 - (2 * core) / (2 * every)
    d.claim("flops/2-percent", "gap between 2·12·n_layers·d_model² and 2·P", "2", share, unit="%",
            note=f"P = {format_number(every)} (with embedding and unembedding); against 52B it is "
                 f"{format_number((1 - core / (kipply.params_b * 10**9)) * 100)}%, against "
                 f"{format_number(with_embedding)} {format_number((1 - core / with_embedding) * 100)}%")

    # ---- leftover ------------------------------------------------------------------------------------
    d.section("Leftover latency calculations", where="leftover latency calculations")
    d.claim("leftover/ratio", "the 208 given as memory bandwidth over compute", "208",
            A100_003.bandwidth / A100_003.peak_flops, rounding="exact", kind="label",
            cause="208 is compute:memory bandwidth (FLOPs per byte, A_f/A_bm); bandwidth:compute is 1/208")
    return d


def main(argv: list[str] | None = None) -> int:
    return run(build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
