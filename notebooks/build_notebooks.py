"""Write the notebooks of this folder from the cells below (outputs empty).

The notebooks are generated, never edited by hand: change a cell here and run
``python notebooks/build_notebooks.py``. ``tests/test_notebooks.py`` checks that
the committed notebooks equal what this script writes, have no outputs, and run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip())


TOUR = [
    md("""
# A tour of symroof: symbols → LaTeX → numbers

symroof writes every cost of a transformer forward pass as an exact SymPy expression in the
seeds' notation — batch `B`, prompt length `S`, new tokens `S_i`, cached tokens `S_c`, hidden
size `H`, layers `N`, parameters `Z` (in billions) — then prints it as LaTeX and evaluates it.
"""),
    code("""
%matplotlib inline
import sympy
from IPython.display import Math, display

import symroof
import symroof.output.plot
from symroof.output.latex import cost_latex, to_latex
from symroof.symbols import B, H, N, S, S_c, S_i, Z
"""),
    md("""
## Symbols

A GPT-style model with every size a symbol, in fp16 (2 bytes per element), costed with the
conventions of seed 000 (jamesnulliu, *Arithmetic Intensity Estimation of Large Language Models*).
"""),
    code("""
gpt = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
prefill = symroof.prefill(gpt, "arithmetic-intensity")
prefill.flops
"""),
    code("""
sympy.factor(prefill.flops)
"""),
    md("It is 000's formula for the prefill FLOPs, typed in from the document:"),
    code("""
seed_000 = N * (24 * B * S * H**2 + 4 * B * S**2 * H)
assert sympy.expand(prefill.flops - seed_000) == 0
"""),
    md("""
## LaTeX

`to_latex` prints in the seeds' notation: `N` pulled out as 000 writes it, `2 Z 10^{9}` for the
fp16 weights of a Z-billion model, terms in a fixed order. The strings equal 000's own.
"""),
    code(r"""
flops_tex = to_latex(prefill.flops)
intensity_tex = to_latex(prefill.intensity)
display(Math(r"\text{FLOPs}_\text{total} = " + flops_tex))
display(Math(r"\text{Arithmetic Intensity} = " + intensity_tex))
# 000, section 3: \frac{N (24 B S H^2 + 4 B S^2 H)}{2 Z 10^9 + 4 N B S H}
assert intensity_tex == r"\frac{N \left(24 B S H^{2} + 4 B S^{2} H\right)}{2 Z 10^{9} + 4 N B S H}"
"""),
    md("Any expression prints the same way, e.g. 000's bytes of a decode step:"),
    code(r"""
to_latex(2 * Z * 10**9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H)
"""),
    md("A `Cost` keeps its terms by name; it prints term by term."),
    code("""
decode = symroof.step(gpt, "arithmetic-intensity")
display(Math(cost_latex(decode, depth=1)))
"""),
    md("""
## Numbers

Llama-3-8B (seed 002's shapes: 32 query heads, 8 KV heads, `d_ffn` 14336), one decode step of
a batch of 32 over 1024 cached tokens. 002 reads `32 × 1024 × 8 × 128 × 2 × 2 = 134,217,728`
bytes of KV cache per layer.
"""),
    code("""
llama = symroof.models.get("llama-3-8b")
step = symroof.decode(llama, "roofline-notes").subs(B=32, S_c=1024)
kv_read_per_layer = step.bytes_of("kv/read") / llama.layers
assert kv_read_per_layer == 134_217_728
print(f"FLOPs {int(step.flops):.4e}, bytes {int(step.bytes):.4e}, intensity {float(step.intensity):.1f} FLOP/byte")
"""),
    md("""
Exact numbers stay exact; `symroof.compile` turns an expression into a fast numeric function.
"""),
    code("""
import numpy as np

intensity = symroof.compile(symroof.decode(llama, "roofline-notes").intensity, S_c=1024)
batches = np.array([1, 8, 64, 512])
dict(zip(batches.tolist(), np.round(intensity(B=batches), 2).tolist(), strict=True))
"""),
    md("""
## The roofline

Prefill is compute-bound, decode memory-bound: on both GPUs the decode point sits on the
sloped part of the roof (`symroof.plot` returns a matplotlib `Figure`; `fig.savefig("x.pdf")`).
"""),
    code("""
symroof.plot.roofline(["H100-SXM", "A100-80GB"], ["llama-3-8b"], conventions="roofline-notes", batch=32)
"""),
    md("""
## A derivation document

`symroof.latex.document` writes the whole derivation as a standalone `.tex` file (it compiles
with `pdflatex`): the terms of prefill and decode, the intensity and the crossover batch.
"""),
    code("""
tex = symroof.latex.document("llama-3-8b", "roofline-notes", "H100-SXM", S_c=1024, phases=("decode",))
print("\\n".join(tex.splitlines()[:12]))
print("...")
print(f"{len(tex.splitlines())} lines")
"""),
]

CROSSOVER = [
    md("""
# The crossover batch across GPUs and context lengths

A decode step turns compute-bound when its arithmetic intensity reaches the GPU's balance
`π/β` (peak FLOP/s over memory bandwidth). The batch where that happens is the crossover
batch `B*`. symroof solves for it exactly.
"""),
    code("""
%matplotlib inline
from IPython.display import Math, display

import symroof
import symroof.output.plot
from symroof.output.latex import to_latex
from symroof.symbols import S_c, beta, pi
"""),
    md("""
## In symbols

Seed 000's decode step (fp16, GPT-style), against a symbolic balance `π/β`:
"""),
    code("""
gpt = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
closed = symroof.crossover_batch(symroof.step(gpt, "arithmetic-intensity"), pi / beta)
display(Math("B^{*} = " + to_latex(closed.value)))
"""),
    md("""
## In numbers: Llama-3-8B decode

The balance of each GPU (`symroof.hardware`, every row from a datasheet), and `B*` at several
context lengths. With grouped-query attention the KV bytes grow with `B·S_c` as fast as the
FLOPs, so the intensity tends to a limit as `B` grows; past some context that limit is below
the balance and no batch makes decode compute-bound ("–").
"""),
    code("""
llama = symroof.models.get("llama-3-8b")
gpus = ["A100-80GB", "H100-SXM", "H200", "B200", "MI300X", "L40S"]
contexts = [0, 512, 2048, 8192, 32768]
cost = symroof.decode(llama, "roofline-notes")

print(f"{'GPU':<11}{'balance':>9}" + "".join(f"{'S_c=' + str(c):>11}" for c in contexts))
table = {}
for gpu in gpus:
    hw = symroof.hardware.get(gpu)
    row = [symroof.crossover_batch(cost, hw, S_c=c) for c in contexts]
    table[gpu] = row
    cells = "".join(f"{int(c.ceiling) if c.exists else '–':>11}" for c in row)
    print(f"{gpu:<11}{float(hw.balance):>9.0f}{cells}")
"""),
    md("""
A check by hand at `S_c = 0` on the A100 (roofline-notes conventions; per token, summed over
the 32 layers): FLOPs `13,959,168,000`, weights `13,958,643,712` bytes, `917,504` bytes of
activations and new K, V. `B* = balance·W / (F − balance·b)`.
"""),
    code("""
from fractions import Fraction

balance = Fraction(312_000, 2039)          # 312 TFLOP/s / 2039 GB/s (000)
by_hand = balance * 13_958_643_712 / (13_959_168_000 - balance * 917_504)
assert table["A100-80GB"][0].value == by_hand
float(by_hand)
"""),
    md("""
## The longest context with a crossover

The limit of the intensity as `B` grows is a function of `S_c`; where it equals the balance
is the longest context at which a large enough batch is compute-bound.
"""),
    code("""
limit = symroof.intensity_limit(cost, "B").value
display(Math(r"\\lim_{B \\to \\infty} I = " + to_latex(limit)))
for gpu in gpus:
    c = symroof.crossover(limit, symroof.hardware.get(gpu), S_c)
    print(f"{gpu:<11} S_c < {float(c.value):8.1f}" if c.exists else f"{gpu:<11} {c.reason}")
"""),
    md("## Intensity against batch"),
    code("""
symroof.plot.intensity_vs_batch("llama-3-8b", ["H100-SXM", "A100-80GB"], conventions="roofline-notes",
                                context=[0, 1024, 8192])
"""),
    md("""
## Where the time goes

Decode time per output token, split by term: weights dominate at small batches, the KV cache
at large ones; compute never catches up at a 1024-token context.
"""),
    code("""
symroof.plot.time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", context=1024)
"""),
]

SPECULATIVE = [
    md("""
# Speculative decoding: intensity against S_i

Speculative decoding drafts `k` tokens cheaply and verifies them in one forward pass of the
large model: a step with `S_i = k` new tokens per sequence over `S_c` cached ones. The weights
are read once for all `k`, so the intensity grows with `S_i` as it grows with `B`.
"""),
    code("""
%matplotlib inline
import numpy as np
from IPython.display import Math, display
from matplotlib.figure import Figure

import symroof
from symroof.output.latex import to_latex
from symroof.symbols import S_i
"""),
    md("""
## Seed 000's formula

000's decode intensity, with `S_i` new tokens over `S_c` cached (its speculative-decoding
example):
"""),
    code(r"""
gpt = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
spec = symroof.step(gpt, "arithmetic-intensity")
tex = to_latex(spec.intensity)
display(Math(r"\text{Arithmetic Intensity} = " + tex))
# 000, section 3 (it writes 2 Z e^{9} for the 10^9 of its prefill formula)
assert tex == (r"\frac{N \left(24 B S_i H^{2} + 4 B S_i S_c H\right)}"
               r"{2 Z 10^{9} + 8 N B S_i H + 2 N B S_c H}")
"""),
    md("""
## Llama-3-8B at batch 1 over a 4096-token cache

How many drafted tokens make one verification step compute-bound on each GPU?
"""),
    code("""
llama = symroof.models.get("llama-3-8b")
step = symroof.step(llama, "exact", B=1, S_c=4096)
print(symroof.intensity_limit(step, S_i).explanation)
for gpu in ["A100-80GB", "H100-SXM", "B200"]:
    c = symroof.crossover(step, gpu, S_i)
    print(f"{gpu:<10} balance {float(symroof.balance(gpu)):5.0f}:",
          f"compute-bound from S_i = {int(c.ceiling)}" if c.exists else c.reason)
"""),
    md("""
## Intensity against S_i, for several batch sizes

Drafting is worth most where a step is far below the balance: at small batches. (`Figure` is
built without pyplot, as `symroof.plot` does.)
"""),
    code("""
k = np.arange(1, 257)
fig = Figure(figsize=(6.4, 4.6), layout="constrained")
ax = fig.add_subplot()
for batch in [1, 4, 16, 64]:
    cost = symroof.step(llama, "exact", B=batch, S_c=4096)
    ax.plot(k, symroof.compile(cost.intensity)(S_i=k), label=f"B = {batch}")
for gpu, style in [("H100-SXM", "--"), ("A100-80GB", "-.")]:
    ax.axhline(float(symroof.balance(gpu)), color="0.3", linestyle=style, label=f"{gpu} balance")
ax.set(xscale="log", yscale="log", xlabel="new tokens per sequence $S_i$ (drafted + 1)",
       ylabel="arithmetic intensity (FLOP/byte)", title="Llama-3-8B verification step, $S_c$ = 4096")
ax.xaxis.set_major_formatter("{x:g}")
ax.legend(loc="upper left", fontsize=9)
fig
"""),
    md("""
## Time per generated token

When each drafted token is accepted with probability `α`, a step of `S_i = k + 1` tokens yields
`(1 − α^{k+1}) / (1 − α)` tokens on average (Leviathan, Kalman & Matias 2023, *Fast Inference
from Transformers via Speculative Decoding*, eq. 1). `symroof.speculative` divides the
verification step's roofline time by it (drafts free here: `c = 0`).
"""),
    code("""
from symroof.analysis.speculative import speculative_decoding

print(" k   verify (ms)   tokens/step   ms/token   speed-up")
for drafted in [1, 2, 4, 8, 16]:
    s = speculative_decoding(llama, "exact", "H100-SXM", alpha=0.8, k=drafted, B=1, S_c=4096)
    print(f"{drafted:>2} {float(s.verify.total_s) * 1e3:12.3f} {float(s.expected_tokens):13.2f}"
          f" {float(s.time_per_token_s) * 1e3:10.3f} {float(s.speedup):10.2f}")
"""),
]

REQUESTS = [
    md("""
# Whole requests: end-to-end latency and cost per million tokens against batch

A request is a prompt of `S` tokens and `G` decode steps over `S_c = S, ..., S+G-1`.
`symroof.request_time` sums each step's roofline time `max(compute, memory)` exactly, in closed
form (the sum splits where a step crosses the balance), and compares it with the mean-context
approximation: `G` steps at `S + G/2`.
"""),
    code("""
%matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import symroof
from symroof.analysis.request import dollars_per_million_tokens
from symroof.symbols import B, S, S_g
"""),
    md("""
## The closed form

Llama-3-8B on an H100, batch kept as a symbol: the decode steps' total time in `S` and `S_g`
(a `Min`/`Max`/`floor` at the crossover), checked against a loop over the steps.
"""),
    code("""
llama = symroof.models.get("llama-3-8b")
closed = symroof.request_time(llama, "exact", "H100-SXM", B=64)
prompt, generated = 1000, 500
loop = sum(symroof.time_per_output_token(llama, "exact", "H100-SXM", B=64, S_c=x).total_s
           for x in range(prompt, prompt + generated))
assert closed.decode_s.subs({S: prompt, S_g: generated}) == loop
print(f"{float(loop):.4f} s for {generated} decode steps at B = 64")
"""),
    md("""
## Against batch, on two GPUs

`PRICE` is a placeholder price per GPU-hour for the illustration (replace it with your own; it is
not a quote). Tokens are the `B·G` generated ones.
"""),
    code("""
PRICE = {"H100-SXM": 2, "A100-80GB": 1}      # $/GPU-hour: placeholders, not quotes
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
rows = {}
for gpu in PRICE:
    t = symroof.request_time(llama, "exact", gpu, S=prompt, G=generated)    # closed form in B
    rows[gpu] = [(float(t.total_s.subs(B, b)), float(t.mean_context_error_s.subs(B, b) / t.decode_s.subs(B, b)),
                  float(dollars_per_million_tokens(t.total_s.subs(B, b), b * generated, price_per_gpu_hour=PRICE[gpu])))
                 for b in batches]
    print(gpu, [f"{r[0]:.2f} s" for r in rows[gpu]])
"""),
    code("""
fig = Figure(figsize=(9.6, 3.6), layout="constrained")
ax_t, ax_c, ax_e = fig.subplots(1, 3)
for gpu, style in [("H100-SXM", "-o"), ("A100-80GB", "-s")]:
    total, error, dollars = np.array(rows[gpu]).T
    ax_t.plot(batches, total, style, label=gpu)
    ax_c.plot(batches, dollars, style, label=gpu)
    ax_e.plot(batches, error * 100, style, label=gpu)
ax_t.set(xscale="log", xlabel="batch $B$", ylabel="end-to-end latency (s)", title="S = 1000, G = 500")
ax_c.set(xscale="log", yscale="log", xlabel="batch $B$", ylabel="$ per million generated tokens")
ax_e.set(xscale="log", xlabel="batch $B$", ylabel="mean-context error (% of decode)")
for ax in (ax_t, ax_c, ax_e):
    ax.xaxis.set_major_formatter("{x:g}")
    ax.legend(fontsize=8)
fig
"""),
    md("""
The mean-context error is positive and small here: each step is linear in `S_c` on one side of
the balance, and `S + G/2` is half a step past the steps' mean context `S + (G − 1)/2`; near the
crossover the max adds a convexity term as well.
"""),
]

HYBRID = [
    md("""
# Hybrid and state-space models: memory that does not grow with the context

A dense model keeps the K and V of every token in every layer; a sliding-window model at most
`W − 1` tokens per layer; a state-space layer (Mamba2) a fixed state per sequence, whatever the
context. Here three models of the same width and depth on one H100: a dense GQA model, the
same with a 4096-token window, and a hybrid with full attention in one layer of eight and Mamba2
(`d_state = 128`, 128 heads of 64, 8 groups) in the others, plus an all-Mamba2 model.
"""),
    code("""
%matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import symroof
from symroof.model.layers import FFN, Attention, Layer, StateSpace
from symroof.symbols import B

base = dict(hidden=4096, layers=32, heads=32, kv_heads=8, ffn_dim=14336, ffn_kind="gated", vocab=128256,
            tied_embeddings=False)
attention = Layer(Attention(32, 8, 128), FFN(14336))
mamba = Layer(None, FFN(14336), mixer=StateSpace(inner=8192, state=128, heads=128, groups=8))
models = {
    "dense": symroof.Arch(**base, name="dense"),
    "sliding W=4096": symroof.Arch(**base, window=4096, name="sliding"),
    "hybrid 1:7": symroof.Arch(**base, layout=((7, mamba), (1, attention)) * 4, name="hybrid"),
    "all Mamba2": symroof.Arch(**base, layout=((32, mamba),), name="mamba2"),
}
for name, arch in models.items():
    print(f"{name:<15} {float(symroof.total_parameters(arch)) / 1e9:5.2f}B parameters,",
          f"state {int(arch.state_elements()) * 2 / 2**20:6.1f} MiB per sequence")
"""),
    md("""
## KV and state memory per sequence against the context

Bytes one sequence keeps (bf16): `Arch.kv_cache_elements(S_c)` (attention K and V) plus
`Arch.state_elements()` (the recurrent states and conv caches, fixed).
"""),
    code("""
contexts = np.unique(np.logspace(8, 20, 49, base=2).astype(int))
fig = Figure(figsize=(6.4, 4.6), layout="constrained")
ax = fig.add_subplot()
for name, arch in models.items():
    kv = symroof.compile(arch.kv_cache_elements() * arch.kv_bytes)
    per_seq = np.asarray(kv(S_c=contexts) if kv.names else np.full(contexts.shape, float(kv())), dtype=float)
    ax.plot(contexts, (per_seq + float(arch.state_elements() * arch.kv_bytes)) / 2**30, label=name)
ax.set(xscale="log", yscale="log", xlabel="context $S_c$ (tokens)", ylabel="memory per sequence (GiB)",
       title="KV cache and fixed state per sequence")
ax.xaxis.set_major_formatter("{x:g}")
ax.legend(fontsize=9)
fig
"""),
    md("""
## How many sequences fit on one H100

`symroof.analysis.serving.max_batch` counts the attention KV per token and each sequence's state once.
"""),
    code("""
from symroof.analysis.serving import max_batch

print(f"{'context':>8}" + "".join(f"{name:>16}" for name in models))
for context in [4096, 32768, 131072]:
    print(f"{context:>8}" + "".join(f"{int(max_batch(a, 'H100-SXM', S_c=context - 1)):>16}" for a in models.values()))
"""),
    md("""
## Decode intensity against the batch, at a 32k context

The balance of the GPU (bf16 peak over memory bandwidth) is the line a step must cross to be
compute-bound. Every step reads and writes the state, so a state-space model's intensity is
bounded too, but its bound does not fall with the context.
"""),
    code("""
batches = np.unique(np.logspace(0, 14, 57, base=2).astype(int))
fig = Figure(figsize=(6.4, 4.6), layout="constrained")
ax = fig.add_subplot()
for name, arch in models.items():
    intensity = symroof.decode(arch, "exact", S_c=32768).intensity
    ax.plot(batches, symroof.compile(intensity)(B=batches), label=name)
ax.axhline(float(symroof.balance("H100-SXM")), color="0.3", linestyle="--", label="H100-SXM balance")
ax.set(xscale="log", yscale="log", xlabel="batch $B$", ylabel="arithmetic intensity (FLOP/byte)",
       title="decode, $S_c$ = 32768")
ax.xaxis.set_major_formatter("{x:g}")
ax.legend(fontsize=9)
fig
"""),
    md("""
## The limit as B → ∞, and the crossover

With any full-attention layer the limit in `B` falls as the context grows (the KV read grows
with every sequence); a window or a state keeps it fixed. A smaller state (`d_state = 16`) lets
the all-Mamba2 model cross the H100's balance at every context.
"""),
    code("""
models["all Mamba2, d_state 16"] = symroof.Arch(**base, name="mamba2-16", layout=((32, Layer(
    None, FFN(14336), mixer=StateSpace(inner=8192, state=16, heads=128, groups=8))),))
for context in [4096, 32768, 131072]:
    print(f"S_c = {context}")
    for name, arch in models.items():
        cost = symroof.decode(arch, "exact", S_c=context)
        limit = symroof.intensity_limit(cost, B).value
        cross = symroof.crossover_batch(cost, "H100-SXM")
        print(f"  {name:<24} limit {float(limit):7.1f}  ",
              f"compute-bound from B = {int(cross.ceiling)}" if cross.exists else "memory-bound at every B")
"""),
]

NOTEBOOKS = {
    "01_tour.ipynb": TOUR,
    "02_crossover.ipynb": CROSSOVER,
    "03_speculative_decoding.ipynb": SPECULATIVE,
    "04_hybrid_models.ipynb": HYBRID,
    "05_requests.ipynb": REQUESTS,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook called ``name``, outputs empty."""
    nb = new_notebook(cells=NOTEBOOKS[name], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{Path(name).stem}-{i:02d}"   # stable ids: rebuilding changes nothing
    nbformat.validate(nb)
    return nb


def main(folder: Path = HERE) -> None:
    for name in NOTEBOOKS:
        nbformat.write(build(name), folder / name)
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
