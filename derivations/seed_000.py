"""Seed 000 (and 001, its text rendering), "Arithmetic Intensity Estimation of Large Language
Models" (jamesnulliu), rebuilt with symroof.

The document's formulas are typed in from its LaTeX and compared with symroof's expressions
under its own conventions (preset ``arithmetic-intensity``: MHA, FFN of width 4H, weights
``2·Z·10^9`` bytes, layer input and output activations, KV cache as the document counts it).
The intensity curves the document links to (GeoGebra, prefill and speculative decoding) are
printed as tables for a 13B-like model and Llama-3-8B; ``--plot PATH`` draws them.

    python derivations/seed_000.py              # the derivation as text
    python derivations/seed_000.py --latex      # as a LaTeX document
    python derivations/seed_000.py --plot curves.png
"""

from __future__ import annotations

import argparse
import sys

import sympy

import symroof
from symroof import analysis, components, models
from symroof.model.params import layer_parameters, total_parameters
from symroof.output.derivation import Derivation, format_number, run
from symroof.symbols import B, H, N, S, S_c, S_i, T, Z

#: the seed files of the document (the second is a plain-text rendering of the first); the tests
#: find them in $SYMROOF_SEEDS (default ../shared/seeds)
DOCUMENTS = ("000_60cb4ee960dc9edb.txt", "001_6af930a71aa4655c.txt")
SOURCE = "jamesnulliu, 2025-03-13; seed files " + " and ".join(DOCUMENTS)
TITLE = "Seed 000/001: Arithmetic Intensity Estimation of Large Language Models"
E9 = sympy.Integer(10) ** 9

# 000's HTML comment sizes a model with hidden size 5120 and 40 layers (40 * 12 * 5120² * 2), a
# 13B model (Z = 13). Its shape is Llama-2-13B's (huggingface.co/meta-llama/Llama-2-13b-hf config.json:
# hidden_size 5120, num_hidden_layers 40, num_attention_heads 40, vocab_size 32000, untied LM head),
# with the GPT-style FFN of width 4H that 000 assumes (8 * hidden_size² of FFN parameters).
MODEL_13B = symroof.Arch(hidden=5120, layers=40, heads=40, vocab=32000, tied_embeddings=False, params_b=13,
                         norm="rmsnorm", name="13B-like (H=5120, N=40, Z=13)",
                         source="000's HTML comment; Llama-2-13B config.json with a 4H GPT-style FFN")

PREFILL_S = (1, 16, 64, 128, 256, 512, 1024, 4096, 16384, 32768)
DRAFT_S_I = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CACHED = 1024          # tokens in the cache for the speculative-decoding curve
GPU = "A100-80GB"      # 000's section 4: 312 × 10^12 FLOPs/s and 2039 × 10^9 B/s


def curves_models() -> list[symroof.Arch]:
    return [MODEL_13B, models.get("llama-3-8b")]


def build() -> Derivation:
    conv = symroof.conventions.get("arithmetic-intensity")
    fixed = conv.replace(kv_read="k+v", name="000 with K and V read")
    fp16 = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    d = Derivation(TITLE, SOURCE)

    # ---- 1. FLOPs ------------------------------------------------------------------------------
    d.section("1. FLOPs, per layer and then over N layers", where="1. Estimating Total FLOPs")
    st = components.Step(B, S, 0)
    att = components.attention(fp16, conv, st).flop_terms
    ffn = components.ffn(fp16, conv, st).flop_terms
    for label, about, printed, value, typeset in [
        ("flops/qkv", "the Q, K and V projections of one layer", 6 * B * S * H**2,
         att["attention/q"] + att["attention/k"] + att["attention/v"],
         r"3 \times (2 \times B \times S \times H \times H) = 6 \times B \times S \times H^2"),
        ("flops/scores", "the score matrix Q·Kᵀ of one layer", 2 * B * S**2 * H, att["attention/scores"],
         r"2 \times B \times S \times S \times H = 2 \times B \times S^2 \times H"),
        ("flops/values", "scores times V, one layer", 2 * B * S * H * S, att["attention/values"],
         r"\text{FLOPs} = 2 \times B \times S \times H \times S"),
        ("flops/out", "the output projection W_O of one layer", 2 * B * S * H**2, att["attention/out"],
         r"\text{FLOPs} = 2 \times B \times S \times H^2"),
        ("flops/attention", "attention of one layer, summed", 8 * B * S * H**2 + 4 * B * S**2 * H, sum(att.values()),
         r"8 \times B \times S \times H^2 + 4 \times B \times S^2 \times H"),
        ("flops/ffn", "the FFN of one layer (H → 4H → H)", 16 * B * S * H**2, sum(ffn.values()),
         r"&= 16 \times B \times S \times H^2"),
    ]:
        d.claim(label, about, printed, value, as_printed=typeset)
    d.remark("The document names the score matrix S, the letter it also uses for the sequence length; "
             "symroof calls the term attention/scores.")
    pre, dec = symroof.prefill(fp16, conv), symroof.step(fp16, conv)
    d.formula("FLOPs_prefill", sympy.factor(pre.flops))
    d.claim("flops/prefill", "prefill FLOPs of the N layers", N * (24 * B * S * H**2 + 4 * B * S**2 * H), pre.flops,
            as_printed=r"\text{FLOPs}_\text{total} = N (24 B S H^2 + 4 B S^2 H)")
    doc_decode_flops = N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H)
    decode_typeset = r"\text{FLOPs}_\text{total} = N (24 B S_i H^2 + 4 B S_i S_c H)"
    d.claim("flops/decode", "decode FLOPs of the N layers: S_i new tokens, S_c tokens cached", doc_decode_flops,
            dec.flops, as_printed=decode_typeset,
            note="reproduced by the preset's keys='cached': each new token scores only the S_c cached keys")
    both = symroof.step(fp16, conv.replace(keys="cached+new"))
    d.claim("flops/decode-own-keys", "the decode FLOPs again, for S_i > 1 (speculative decoding)",
            doc_decode_flops, both.flops, as_printed=decode_typeset, kind="approximation",
            cause="the S_i new tokens' K and V are appended before attention, so they also score one "
                  "another: 4·N·B·S_i·(S_c + S_i)·H dense (S_c + (S_i+1)/2 with a causal mask); the gap "
                  "4·N·B·S_i²·H is small only while S_i ≪ S_c")

    # ---- 2. Bytes ------------------------------------------------------------------------------
    d.section("2. Bytes moved", where="2. Estimating Total Bytes Transfered")
    d.claim("bytes/weights", "weights of a Z-billion-parameter fp16 model", 2 * Z * E9, pre.bytes_of("weights"),
            as_printed=r"Z \times 10^9 \times 2 ~ \text{Bytes} = 2 \times Z ~ \text{GBytes}")
    d.claim("bytes/act-layer", "one (B, S, H) fp16 activation of a layer", B * S * H * 2,
            pre.bytes_of("activations") / (2 * N),
            as_printed=r"\text{Bytes}_\text{act-layer} = B \times S \times H \times 2 ~ \text{Bytes}",
            note="one (B, S, H) tensor; symroof counts the read and the write")
    d.claim("bytes/act-total", "activations of the N layers (input read, output written)", 4 * N * B * S * H,
            pre.bytes_of("activations"), as_printed=r"&= 4 \times N \times B \times S \times H ~ \text{Bytes}")
    doc_kv = N * (B * S_c * H + 2 * B * S_i * H) * 2
    d.formula("Bytes_KV (symroof, 000 preset)", dec.bytes_of("kv"),
              note="the preset reproduces the document's formula, kv_read='one'")
    good = symroof.step(fp16, fixed)
    d.formula("Bytes_KV (K and V read)", sympy.factor(good.bytes_of("kv")),
              note="Conventions.replace(kv_read='k+v')")
    d.claim("bytes/kv", "KV-cache traffic of a decode step (the cache read, the new K and V written)", doc_kv,
            good.bytes_of("kv"),
            as_printed=r"\text{Bytes}_\text{KV} = N \times (B \times S_c \times H + 2 \times B \times S_i \times H)"
                       r" \times 2",
            cause="the text loads K and V, two (B, S_c, H) tensors, but the formula counts B·S_c·H elements "
                  "once: it should read N × (2·B·S_c·H + 2·B·S_i·H) × 2 = 4·N·B·S_c·H + 4·N·B·S_i·H")
    # the prompt's K and V are written to the cache as the decode step writes its new tokens' K and V
    pre_kv = symroof.prefill(fp16, fixed.replace(kv_write="always"))
    d.formula("Bytes_prefill (000 preset)", pre.bytes,
              note="the preset reproduces the document: kv_write='decode' writes no K and V in prefill")
    d.claim("bytes/prefill", "total bytes of prefill", 2 * Z * E9 + 4 * N * B * S * H, pre_kv.bytes,
            as_printed=r"&= 2 Z \text{e}^9 + 4 N B S H ~ \text{Bytes}",
            cause="the prompt's K and V, two (B, S, H) fp16 tensors per layer, must be written to the cache "
                  "for decoding to read them (000 counts that write for the S_i new tokens of a decode "
                  "step): 4·N·B·S·H more, Bytes_total = 2Ze9 + 8NBSH")
    d.claim("bytes/decode", "total bytes of a decode step", 2 * Z * E9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H,
            good.bytes, as_printed=r"&= 2 Z \text{e}^{9} + 8 N B S_i H + 2 N B S_c H ~ \text{Bytes}",
            cause="follows from the KV term: reading K and V makes the cache term 4·N·B·S_c·H, "
                  "so Bytes_total = 2Ze9 + 8NBS_iH + 4NBS_cH")

    # ---- 3. Arithmetic intensity --------------------------------------------------------------
    d.section("3. Arithmetic intensity", where="3. Arithmetic Intensity")
    d.claim("ai/prefill", "intensity of prefill",
            N * (24 * B * S * H**2 + 4 * B * S**2 * H) / (2 * Z * E9 + 4 * N * B * S * H), pre_kv.intensity,
            as_printed=r"\frac{N (24 B S H^2 + 4 B S^2 H)}{2 Z 10^9 + 4 N B S H}",
            cause="the denominator carries the prefill KV write: 2Ze9 + 8NBSH")
    d.claim("ai/decode", "intensity of a decode step",
            doc_decode_flops / (2 * Z * E9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H), good.intensity,
            as_printed=r"\frac{N (24 B S_i H^2 + 4 B S_i S_c H)}{2 Z \text{e}^{9} + 8 N B S_i H + 2 N B S_c H}",
            cause="the denominator carries the KV erratum: 4·N·B·S_c·H, not 2·N·B·S_c·H")
    lim = analysis.intensity_limit(dec, B)
    d.formula("limit of the decode intensity as B grows (000 preset)", lim.value,
              note="decode never turns compute-bound where this limit is below the balance")

    # ---- 4. Roofline ---------------------------------------------------------------------------
    d.section("4. Roofline model: A100-80GB", where="4. Roofline Model")
    gpu = symroof.hardware.get(GPU)
    d.claim("roofline/peak", "A100-80GB peak dense fp16 rate", "312", gpu.peak_flops, unit="TFLOP/s")
    d.claim("roofline/bandwidth", "A100-80GB memory bandwidth", "2039", gpu.bandwidth, unit="GB/s")
    d.claim("roofline/balance", "A100-80GB machine balance, peak over bandwidth", "153",
            analysis.balance(gpu), unit="FLOPs/byte", note=f"exactly {analysis.balance(gpu)}")

    # ---- the HTML comment ------------------------------------------------------------------------
    d.section("The HTML comment under 'Model Weights' (000 only; 001 drops it)",
              where="2. Estimating Total Bytes Transfered")
    per = layer_parameters(symroof.Arch.symbolic(), biases=False, norms=False)
    attn = sum(v for k, v in per.items() if k.startswith("attention"))
    mlp = sum(v for k, v in per.items() if k.startswith("ffn"))
    d.claim("comment/layer", "parameters of one layer", 12 * H**2, attn + mlp, as_printed="12 * hidden_size²")
    d.claim("comment/attention", "parameters of one layer's attention", 4 * H**2, attn,
            as_printed="4 * hidden_size²")
    d.claim("comment/ffn", "parameters of one layer's FFN", 8 * H**2, mlp, as_printed="8 * hidden_size²")
    m = MODEL_13B
    layers_bytes = total_parameters(m, embeddings=False, biases=False, norms=False) * m.weight_bytes
    d.worked("N · 12 · H² · 2", f"40 · 12 · 5120² · 2 = {format_number(layers_bytes)} bytes")
    d.claim("comment/layers-bytes", "fp16 bytes of the 40 layers of the 13B-like model", "25.17", layers_bytes,
            unit="GB")
    every = total_parameters(m, biases=False, norms=False) * m.weight_bytes
    d.claim("comment/total", "fp16 bytes of the whole 13B-like model, embeddings included", "26", every, unit="GB",
            note=f"{m.name}: embedding and untied LM head of 32,000 × 5,120 each; 000's own 2·Z GB "
                 f"with Z = 13 is 26 GB too")

    # ---- curves ----------------------------------------------------------------------------------
    d.section(f"The intensity curves (000 links two GeoGebra plots), B = 1, on {GPU}")
    bal = analysis.balance(gpu)
    d.remark(f"Balance {format_number(bal)} FLOPs/byte: above it a step is compute-bound. "
             "Intensity under 000's conventions; 'k+v' reads both K and V (the corrected KV term).")
    rows = []
    archs = curves_models()
    costs = [symroof.prefill(a, conv, B=1) for a in archs]
    for s in PREFILL_S:
        rows.append((s, *(format_number(c.intensity.subs(S, s)) for c in costs)))
    d.table("prefill intensity vs prompt length S", ("S", *(a.name for a in archs)), rows)
    for a, c in zip(archs, costs, strict=True):
        x = analysis.crossover(c, gpu, S)
        d.worked(f"S* ({a.name})", format_number(x.value) if x.exists else "none", note=x.reason)

    rows = []
    spec = [(a, k) for a in archs for k in (conv, fixed)]
    spec_costs = [symroof.step(a, k, B=1, S_c=CACHED) for a, k in spec]
    for s in DRAFT_S_I:
        rows.append((s, *(format_number(c.intensity.subs(S_i, s)) for c in spec_costs)))
    headers = ("S_i", *(f"{a.name} [{'000' if k is conv else 'k+v'}]" for a, k in spec))
    d.table(f"speculative decoding: intensity vs new tokens S_i per step, S_c = {CACHED}", headers, rows)
    for (a, k), c in zip(spec, spec_costs, strict=True):
        x = analysis.crossover(c, gpu, S_i)
        tag = "000" if k is conv else "k+v"
        d.worked(f"S_i* ({a.name}, {tag})", format_number(x.value) if x.exists else "none", note=x.reason)

    # ---- 001 and tensor parallelism --------------------------------------------------------------
    d.section("5. Discussion: tensor parallelism (completed in 001)", where="5. Discussion: Tensor Parallelism")
    d.remark("001 renders 000 as plain text. It has no front matter, no HTML comment and no GeoGebra links, "
             "breaks some paragraphs around their formulas, writes the decode intensity's 2 Z e^{9} as "
             "2 Z 10^9 (the same number), and finishes the tensor-parallel paragraph that 000 stops after "
             "its first clause: with TP over T GPUs, 001 divides both H and the weights by T.")
    # symroof's tensor-parallel model (analysis.latency with tp=T): FLOPs and all bytes but the
    # activations are split over the T GPUs; time × rate gives the per-GPU FLOPs and bytes
    tp = analysis.latency(pre, gpu, tp=T)
    per_gpu_flops = sympy.factor(tp.compute_s * gpu.peak_flops)
    per_gpu_weights = sympy.expand(tp.memory_s * gpu.bandwidth - pre.bytes_of("activations"))
    d.formula("prefill FLOPs per GPU (symroof, tp = T)", per_gpu_flops)
    d.formula("prefill bytes per GPU (symroof, tp = T)", sympy.expand(tp.memory_s * gpu.bandwidth),
              note="weights split, activations whole")
    literal = pre.flops.subs(H, H / T)
    d.claim("tp/flops", "(001) prefill FLOPs per GPU, with H replaced by H/T", sympy.factor(literal), per_gpu_flops,
            kind="ambiguity",
            cause="read literally, H → H/T divides the 24·B·S·H² matmul terms by T²; tensor parallelism "
                  "splits each weight matrix along one dimension, so every FLOP term is divided by T once "
                  "(and the weights 2Z·10^9 by T), while each GPU still reads and writes the full (B, S, H) "
                  "activations")
    d.claim("tp/weights", "(001) weight bytes per GPU under TP over T GPUs", 2 * Z * E9 / T, per_gpu_weights)
    return d


def plot(path: str) -> None:
    """Both curves on log axes with the balance line, saved to ``path`` (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    conv = symroof.conventions.get("arithmetic-intensity")
    fixed = conv.replace(kv_read="k+v")
    bal = float(analysis.balance(GPU))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    s_grid = np.unique(np.logspace(0, 15, 61, base=2).round())
    i_grid = np.arange(1, 257)
    for n, a in enumerate(curves_models()):
        pre = symroof.prefill(a, conv, B=1)
        f = sympy.lambdify(S, pre.intensity, "numpy")
        left.plot(s_grid, f(s_grid.astype(float)), color=f"C{n}", label=a.name)
        for k, style in ((conv, "-"), (fixed, "--")):
            g = sympy.lambdify(S_i, symroof.step(a, k, B=1, S_c=CACHED).intensity, "numpy")
            tag = "000" if k is conv else "K and V read"
            right.plot(i_grid, g(i_grid.astype(float)), style, color=f"C{n}", label=f"{a.name} ({tag})")
    for ax, xlabel, title in ((left, "prompt length S", "Prefill, B = 1"),
                              (right, "new tokens per step S_i", f"Speculative decoding, B = 1, S_c = {CACHED}")):
        ax.axhline(bal, color="k", lw=0.8, ls=":", label=f"{GPU} balance {bal:.0f}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("FLOPs / byte")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot", metavar="PATH", help="save the intensity curves to PATH (PNG, PDF, SVG)")


def _after(args: argparse.Namespace, _: Derivation) -> None:
    if args.plot:
        plot(args.plot)
        print(f"saved {args.plot}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run(build, argv, description=__doc__.splitlines()[0], extra=_extra, after=_after)


if __name__ == "__main__":
    sys.exit(main())
