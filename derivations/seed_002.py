"""Seed 002, "Roofline analysis for prefill and decoding" (Llama-3-8B), rebuilt with symroof.

Every number the note prints is a `Claim`: its value as printed (and the rounding that value
stands for), the heading it stands under, a label of ours, and symroof's exact value under the
note's own conventions (``roofline-notes``: weights from the layer matrices, fused-kernel activations, dense scores).

    python derivations/seed_002.py            # the derivation as text
    python derivations/seed_002.py --latex    # as a LaTeX document
    python derivations/seed_002.py --errata   # only the errata (Markdown)
"""

from __future__ import annotations

import sys

import sympy

import symroof
from symroof import analysis, hardware, models
from symroof.model.params import layer_parameters, model_parameters, total_parameters
from symroof.output.derivation import Derivation, format_number, run
from symroof.symbols import B, S, S_c

#: the seed file of the document; the tests find it in $SYMROOF_SEEDS (default ../shared/seeds)
DOCUMENTS = ("002_ed6ee44c15ea390d.txt",)
SOURCE = "a roofline note on Llama-3-8B, 2025-12-26; seed file " + DOCUMENTS[0]
TITLE = "Seed 002: Roofline analysis for prefill and decoding (Llama-3-8B)"

# 002's analysis: Llama-3-8B at batch 32 and seq_len 1024; decode with seq_len_context 1024
BATCH, SEQ = 32, 1024

# 002's hardware table, as printed: GPU, TFLOPs (bf16/fp16), memory BW (GB/s), intensity (FLOPs/byte)
TABLE = [
    ("H100 SXM", "989", "3,350", "295"),      # dense; the datasheet's 1,979 counts sparsity
    ("H100 PCIe", "756", "2,000", "378"),     # dense; 1,513 with sparsity
    ("A100 SXM", "312", "2,039", "153"),      # the 80GB part
    ("A100 PCIe", "312", "1,555", "201"),     # the 40GB part
    ("L40S", "362", "864", "419"),            # 362.05 on the datasheet
    ("A10", "125", "600", "208"),
    ("V100", "125", "900", "139"),            # fp16 only
]


def regime(cost: symroof.Cost, gpu: symroof.Hardware) -> str:
    """The roofline's verdict (`symroof.analysis.regime`), in 002's words."""
    return f"{analysis.regime(cost, gpu)}-bound"


def build() -> Derivation:
    arch = models.get("llama-3-8b")
    conv = symroof.conventions.get("roofline-notes")
    N, b = arch.layers, arch.weight_bytes
    d = Derivation(TITLE, SOURCE)

    # ---- the model ----------------------------------------------------------------------------
    d.section("The model: symroof preset llama-3-8b", where="Llama3 8B model with sequence length 1024")
    d.remark("Each hyperparameter the note lists, against the preset (Hugging Face config.json).")
    for label, about, printed, value in [
        ("model/n_q_head", "query heads", "32", arch.heads),
        ("model/n_kv_head", "key/value heads", "8", arch.kv_heads),
        ("model/d_head", "width of one head", "128", arch.head_dim),
        ("model/d_model", "model width (query heads × head width)", "4096", arch.q_width),
        ("model/d_ffn", "FFN width", "14336", arch.ffn_dim),
        ("model/num_layers", "layers", "32", N),
        ("model/vocab_size", "vocabulary", "128256", arch.vocab),
        ("model/d_type", "bytes per weight (fp16)", "2", b),
    ]:
        d.claim(label, about, printed, value, unit="", rounding="exact")

    # ---- prefill: weights -----------------------------------------------------------------------
    d.section("Prefill memory: model weights", where="Prefill / Memory")
    d.remark("002 writes MB for the matrices but means binary MiB (2^20 bytes): 4096·4096·2 bytes is "
             "32 MiB = 33.6 MB. Its analysis later uses decimal MB (436 MB). Both are shown.")
    counts = layer_parameters(arch, biases=False, norms=False)
    mats = [("W_q", "attention/q", "query projection", "32"),
            ("W_k", "attention/k", "key projection", "8"),
            ("W_v", "attention/v", "value projection", "8"),
            ("W_o", "attention/out", "output projection", "32"),
            ("W_gate", "ffn/gate", "FFN gate matrix", "128"),
            ("W_up", "ffn/up", "FFN up matrix", "128"),
            ("W_down", "ffn/down", "FFN down matrix", "128")]
    ffn_cause = ("4096·14336·2 = 117,440,512 bytes = 112 MiB (117.4 MB); 128 MiB would need "
                 "d_ffn = 16,384")
    for name, path, about, printed in mats:
        nbytes = counts[path] * b
        d.worked(name, f"{format_number(counts[path])} params × {b} bytes = {format_number(nbytes)} bytes")
        d.claim(f"weights/{name}", f"{name}, the {about}, in bytes", printed, nbytes, unit="MiB",
                cause=ffn_cause if path.startswith("ffn") else "")
    embedding = model_parameters(arch)["embedding"] * b
    d.claim("weights/embedding", "the embedding table, vocabulary × width", "1", embedding, unit="GB",
            note=f"{format_number(embedding)} bytes = 0.98 GiB")

    layer_weights = symroof.prefill(arch, conv, B=1, S=1).bytes_of("weights") / N
    d.worked("per layer", f"W_q + W_k + W_v + W_o + W_gate + W_up + W_down = {format_number(layer_weights)} bytes")
    d.claim("weights/layer", "the seven matrices of one layer, summed", "480", layer_weights, unit="MB",
            cause="the seven matrices hold 436,207,616 bytes = 436 MB = 416 MiB (the note's own analysis "
                  "uses 436 MB); even its printed parts add to 32+8+8+32+3·128 = 464, not 480")
    d.claim("weights/layer-MiB", "one layer's matrices again, read in the binary MB of the matrix list", "480",
            layer_weights, unit="MiB",
            cause="416 MiB: the FFN matrices are 112 MiB each, not 128")
    d.claim("weights/sum-as-written", "32 layers plus one embedding table, as the note adds them", "16",
            N * layer_weights + embedding, unit="GB",
            cause="32 layers (13.96 GB) + the embedding (1.05 GB) = 15.01 GB: the sum forgets the untied "
                  "LM head (vocab_size × d_model, another 1.05 GB); it reaches 16 GB only because 480 MB "
                  "overstates each layer by 44 MB (1.4 GB over 32 layers)")
    all_weights = symroof.prefill(arch, conv.replace(weights="all"), B=1, S=1).bytes_of("weights")
    d.claim("weights/total", "all 8B parameters at 2 bytes", "16", all_weights, unit="GB",
            note=f"every parameter (layers, embedding, untied LM head, norms): "
                 f"{format_number(total_parameters(arch))} × 2 bytes")

    # ---- prefill: activations -------------------------------------------------------------------
    d.section("Prefill memory: activations of fused kernels", where="Prefill / Memory")
    sym_cost = symroof.prefill(arch, conv)          # B and S left as symbols
    act = (sym_cost.bytes_of("activations") + sym_cost.bytes_of("kv/write")) / N
    d.formula("activation bytes per layer (symroof)", sympy.factor(act))
    d.claim("act/formula", "activation bytes of one layer: three (B, S, d_model) tensors and the K, V written",
            B * S * 4096 * 2 * 3 + B * S * 8 * 128 * 2 * 2, act,
            as_printed="batch × seq_len × d_model × 2 × 3 + batch × seq_len × n_kv_head × d_head × 2 × 2")
    d.claim("act/x6+x2", "the same sum, rewritten in units of B·S·d_model", B * S * 4096 * 6 + B * S * 4096 * 2, act,
            as_printed="= batch × seq_len × d_model × 6 + batch × seq_len × d_model × 2",
            cause="the K,V term batch·seq_len·n_kv_head·d_head·2·2 is batch·seq_len·d_model·1 here "
                  "(n_kv_head·d_head = 1024 = d_model/4), not ·2")
    d.claim("act/x8", "the same sum, collected into one term", B * S * 4096 * 8, act,
            as_printed="= batch × seq_len × d_model × 8",
            cause="follows from the previous line; the sum is batch·seq_len·d_model·7 (an MHA model "
                  "would have ·10, so ·8 fits no model)")
    d.claim("act/x7", "the same sum for GQA with a quarter as many KV heads", B * S * 4096 * 7, act,
            as_printed="≈ batch × seq_len × d_model × 7", note="exact for Llama-3-8B, not an approximation")

    # ---- prefill: FLOPs -------------------------------------------------------------------------
    d.section("Prefill FLOPs, per layer", where="Prefill / Computation (FLOPs)")
    flops = {k: v / N for k, v in sym_cost.flop_terms.items()}
    nkv_dh = 8 * 128
    for label, about, printed, value, typeset in [
        ("flops_Q", "query projection", B * S * 4096 * 4096 * 2, flops["attention/q"],
         "flops_Q = batch × seq_len × d_model × d_model x 2"),
        ("flops_K", "key projection", B * S * 4096 * nkv_dh * 2, flops["attention/k"],
         "flops_K = batch × seq_len × d_model × (n_kv_head × d_head) x 2"),
        ("flops_V", "value projection", B * S * 4096 * nkv_dh * 2, flops["attention/v"],
         "flops_V = batch × seq_len × d_model × (n_kv_head × d_head) x 2"),
        ("flops_qk", "attention scores Q·Kᵀ", B * S * 4096 * S * 2, flops["attention/scores"],
         "flops_qk = batch × seq_len × d_model × seq_len × 2"),
        ("flops_av", "scores times V", B * S * 4096 * S * 2, flops["attention/values"],
         "flops_av = batch × seq_len × d_model × seq_len × 2"),
        ("flops_O", "output projection", B * S * 4096 * 4096 * 2, flops["attention/out"],
         "flops_O = batch × seq_len × d_model × d_model x 2"),
        ("flops_ffn", "gate, up and down matrices", 3 * B * S * 4096 * 14336 * 2,
         flops["ffn/gate"] + flops["ffn/up"] + flops["ffn/down"],
         "flops_gate,up,down = 3 x (batch × seq_len × d_model × d_ffn) x 2"),
    ]:
        d.claim(f"prefill/{label}", f"prefill FLOPs of one layer: {about}", printed, value, as_printed=typeset)

    # ---- prefill: analysis at B = 32, S = 1024 ------------------------------------------------------
    d.section(f"Prefill analysis: batch = {BATCH}, seq_len = {SEQ}", where="Prefill / Analysis")
    pre = symroof.prefill(arch, conv, B=BATCH, S=SEQ)
    w, a = pre.bytes_of("weights") / N, (pre.bytes_of("activations") + pre.bytes_of("kv")) / N
    d.worked("bytes per layer", f"{format_number(w)} (weights) + {format_number(a)} (activations) = "
             f"{format_number(w + a)} bytes")
    d.claim("prefill/weights", "weight bytes of one layer", "436", w, unit="MB")
    d.claim("prefill/activations", "activation bytes of one layer at batch 32, 1024 tokens", "940", a, unit="MB")
    d.claim("prefill/bytes", "bytes of one layer, weights plus activations", "1300", pre.bytes / N, unit="MB",
            rounding="sig:2", kind="rounding",
            cause="436 + 940 = 1,376 MB (the note itself divides by 1376·10^6 two lines later); to two "
                  "figures that is 1,400 MB")
    d.claim("prefill/flops", "FLOPs of one layer", "14.8", pre.flops / N, unit="TFLOPs")
    d.claim("prefill/flops-attention", "FLOPs of one layer's attention (projections and scores)", "3.0",
            pre.flops_of("attention") / N, unit="TFLOPs",
            cause="Q and O 1.10 TFLOPs each, K, V, QK^T and AV 0.27 each: 3.30 TFLOPs (3.0 + 12 would be "
                  "15, not the 14.8 above)")
    d.claim("prefill/flops-ffn", "FLOPs of one layer's FFN", "12", pre.flops_of("ffn") / N, unit="TFLOPs")
    d.claim("prefill/ai-numerator", "the FLOPs in the intensity quotient", "15", pre.flops / N, unit="TFLOPs")
    d.claim("prefill/ai-denominator", "the bytes in the intensity quotient", "1376", pre.bytes / N, unit="MB")
    d.claim("prefill/intensity", "prefill intensity at batch 32", "10,000", pre.intensity, unit="FLOPs/byte",
            rounding="sig:1", note=f"exact {format_number(pre.intensity, 6)}")
    h100 = hardware.get("H100 SXM")
    d.claim("prefill/regime", "verdict at batch 32, against the H100's balance", "compute-bound",
            regime(pre, h100))
    one = symroof.prefill(arch, conv, B=1, S=SEQ)
    d.worked("batch = 1", f"{format_number(one.flops / N)} FLOPs / {format_number(one.bytes / N)} bytes per layer")
    d.claim("prefill/intensity-b1", "prefill intensity at batch 1, scaled down from batch 32", "300",
            one.intensity, unit="FLOPs/byte", rounding="sig:1",
            cause="dividing by 32 also divides the weight bytes, which do not shrink with the batch: at "
                  "batch 1 the FLOPs fall 32-fold (463.9 GFLOPs per layer) but the 436 MB of weights stay, "
                  "465.6 MB in all: 996 FLOPs/byte")
    d.claim("prefill/regime-b1", "verdict at batch 1, against the H100's balance", "compute-bound",
            regime(one, h100), note="by a wider margin than the note thinks: 996 > 295")

    # ---- hardware table ---------------------------------------------------------------------------
    d.section("Hardware specification (symroof catalogue)", where="Prefill / Analysis / Hardware specification")
    rows = []
    for name, tflops, gbps, balance in TABLE:
        gpu = hardware.get(name)
        rows.append((name, gpu.name, format_number(gpu.peak_flops / 10**12), format_number(gpu.bandwidth / 10**9),
                     format_number(gpu.balance, 4)))
        d.claim(f"hw/{name}/compute", f"{name}: dense bf16/fp16 rate", tflops, gpu.peak_flops,
                unit="TFLOP/s", note=gpu.source if name == "A100 PCIe" else "")
        d.claim(f"hw/{name}/bandwidth", f"{name}: memory bandwidth", gbps, gpu.bandwidth, unit="GB/s")
        d.claim(f"hw/{name}/balance", f"{name}: balance, rate over bandwidth", balance, gpu.balance,
                unit="FLOPs/byte")
    d.table("symroof's rows for 002's table", ("002 name", "catalogue row", "TFLOP/s", "GB/s", "FLOPs/byte"), rows)

    # ---- decode -----------------------------------------------------------------------------------
    d.section(f"Decode memory per layer: batch = {BATCH}, seq_len_context = {SEQ}", where="Decode / Memory")
    dec = symroof.decode(arch, conv, B=BATCH, S_c=SEQ)
    d.claim("decode/weights", "weight bytes of one layer in decode (parameters × 2 / layers)", "480",
            dec.bytes_of("weights") / N, unit="MB",
            cause="the layer's matrices are 436 MB as in prefill (480 was wrong there too); the formula as "
                  "written, 8.03e9 parameters × 2 / 32, gives 502 MB because it spreads the embedding and LM "
                  "head over the layers")
    one_tensor = dec.bytes_of("activations") / N / 3   # fused: attention input, attention output, FFN output
    d.worked("one activation tensor", f"batch × d_model × 2 = {format_number(one_tensor)} bytes",
             note="symroof's fused activations are three of these per layer")
    d.claim("decode/input", "the (batch, 1, d_model) input of a decode step", "262,144", one_tensor, unit="bytes",
            rounding="exact")
    d.claim("decode/kv-read", "KV cache read by one layer, 1024 cached tokens", "134,217,728",
            dec.bytes_of("kv/read") / N, unit="bytes", rounding="exact")
    d.claim("decode/kv-write", "K and V of the new token written by one layer", "131,072",
            dec.bytes_of("kv/write") / N, unit="bytes", rounding="exact")
    for label, about in [("attention-input", "attention's input"), ("attention-output", "attention's output"),
                         ("ffn-output", "the FFN's output")]:
        d.claim(f"decode/{label}", f"{about}, one (batch, 1, d_model) tensor", "262,144", one_tensor,
                unit="bytes", rounding="exact")
    ffn_input = BATCH * arch.ffn_dim * arch.act_bytes   # (B, d_ffn) activation between gate/up and down
    d.claim("decode/ffn-input", "the (batch, 1, d_ffn) tensor entering the down projection", "884,736", ffn_input,
            unit="bytes", rounding="exact",
            cause="32·14336·2 = 917,504 bytes; 884,736 is 32·13824·2",
            note="symroof's 002 preset (fused kernels, as in the note's own prefill list) has no such term: "
                 "the gated activation stays inside the fused FFN")
    moved = dec.bytes_of("activations") / N + dec.bytes_of("kv") / N
    d.claim("decode/activations", "activation and KV bytes of one layer in decode", "135", moved, unit="MB",
            note=f"with the note's FFN-input item too: {format_number((moved + ffn_input) / 10**6)} MB")
    d.claim("decode/weights-again", "weight bytes in the rough decode total", "480", dec.bytes_of("weights") / N,
            unit="MB", cause="436 MB, as above")
    d.claim("decode/bytes", "rough decode total of one layer, weights plus activations", "600", dec.bytes / N,
            unit="MB", rounding="sig:1",
            note="436 + 135 = 571 MB, which rounds to 600 at one figure; the note's own 480 + 135 is 615")

    d.section("Decode FLOPs, per layer", where="Decode / FLOPs")
    sym_dec = symroof.decode(arch, conv)            # B and S_c left as symbols
    f = {k: v / N for k, v in sym_dec.flop_terms.items()}
    keys_cause = ("the new token attends to its own key as well, appended to the cache before attention: "
                  "S_c + 1 keys, batch·d_model·(S_c + 1)·2; one key in 1,025 at S_c = 1024")
    for label, about, printed, value, cause, typeset in [
        ("flops_Q", "query projection", B * 4096 * 4096 * 2, f["attention/q"], "",
         "flops_Q = batch × 1 × d_model × d_model x 2"),
        ("flops_K", "key projection", B * 4096 * nkv_dh * 2, f["attention/k"], "",
         "flops_K = batch × 1 × d_model × (n_kv_head × d_head) x 2"),
        ("flops_V", "value projection", B * 4096 * nkv_dh * 2, f["attention/v"], "",
         "flops_V = batch × 1 × d_model × (n_kv_head × d_head) x 2"),
        ("flops_qk", "scores of the new token against the cache", B * 32 * S_c * 128 * 2, f["attention/scores"],
         keys_cause, "flops_qk = batch × n_q_head × 1 × seq_len_context × d_head × 2"),
        ("flops_av", "scores times the cached V", B * 32 * S_c * 128 * 2, f["attention/values"], keys_cause,
         "flops_av = batch × n_q_head × 1 × seq_len_context × d_head × 2"),
        ("flops_O", "output projection", B * 4096 * 4096 * 2, f["attention/out"], "",
         "flops_O = batch × 1 × d_model × d_model x 2"),
        ("flops_ffn", "gate, up and down matrices", 3 * B * 14336 * 4096 * 2,
         f["ffn/gate"] + f["ffn/up"] + f["ffn/down"], "", "flops_ffn = 3 × (batch × 1 × d_ffn × d_model x 2)"),
    ]:
        d.claim(f"decode/{label}", f"decode FLOPs of one layer: {about}", printed, value, as_printed=typeset,
                cause=cause, kind="approximation" if cause else "error",
                note="symroof reproduces it with conventions keys='cached'" if cause else "")

    d.section(f"Decode analysis: batch = {BATCH}, seq_len_context = {SEQ}", where="Decode / Analysis")
    d.claim("decode/flops", "FLOPs of one layer in decode", "15", dec.flops / N, unit="GFLOPs", kind="rounding",
            cause="14.50 GFLOPs, which rounds to 14 (15 is the rounded 3.0 + 12)")
    d.claim("decode/flops-attention", "FLOPs of one layer's attention in decode", "3.0",
            dec.flops_of("attention") / N, unit="GFLOPs",
            cause="Q and O 1.07 GFLOPs each, K, V, QK^T and AV 0.27 each: 3.22 GFLOPs")
    d.claim("decode/flops-ffn", "FLOPs of one layer's FFN in decode", "12", dec.flops_of("ffn") / N, unit="GFLOPs",
            kind="rounding", cause="3·32·14336·4096·2 = 11.27 GFLOPs, which rounds to 11 (prefill's 11.54 "
                                   "TFLOPs did round to 12)")
    d.claim("decode/intensity", "decode intensity at batch 32", "24", dec.intensity, unit="FLOPs/byte",
            cause="14.50 GFLOPs / 571.3 MB = 25.4 (436 MB of weights, not 480); even the note's own "
                  "15 GFLOPs / 600 MB is 25")
    d.claim("decode/regime", "verdict for decode, against the H100's balance", "memory-bound", regime(dec, h100))
    return d


def main(argv: list[str] | None = None) -> int:
    return run(build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
