"""symroof's byte terms == an independent walk over the tensors each preset says are moved.

The walker below shares no code with symroof: for one forward pass it lists every
tensor a preset reads or writes — weight matrices, biases and norm vectors by
shape, activations and K/V slices by shape — names each with the byte term it
belongs to, and sums elements × bytes per element (exact ``Fraction``s, so int4's
half byte stays exact). What each preset moves is written out here by hand from
the source documents:

* ``arithmetic-intensity`` (seed 000): weights ``2·Z·10^9`` bytes (``b_w·Z·10^9``); per
  layer the input ``(B, S, H)`` is read and the output written ("read once, written
  once"); KV: only one of K, V of the ``S_c`` cached tokens is read (000's
  ``N(B·S_c·H + 2·B·S_i·H)·2``) and K, V of the new tokens are written, in decode only.
* ``roofline-notes`` (002): weight matrices only; per layer the attention input read,
  attention output and FFN output written; K and V of the cached tokens read and of
  the new ones written.
* ``inference-arithmetic`` (003): ``2·P`` weight bytes per forward pass, nothing else.
* ``matmul``: every parameter tensor once; K and V read and written; no activations.
* ``exact``: every parameter tensor once, but the embedding (and learned position) tables only by
  the ``B·S_i`` rows the lookup gathers (a tied LM head then reads the table once), and a MoE layer's
  routed experts only as many as the pass touches in expectation, ``E·(1 − ((E−k)/E)^(B·S_i))``
  (an expert is missed by one token with probability ``(E−k)/E``, by all of them independently);
  002's fused activations, K and V read and written.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof

SPEC = {
    "arithmetic-intensity": dict(weights="nominal", activations=("layer input", "layer output"),
                                 kv_read=("K",), kv_write="decode"),
    "roofline-notes": dict(weights="matrices", activations=("attention input", "attention output", "FFN output"),
                           kv_read=("K", "V"), kv_write="always"),
    "inference-arithmetic": dict(weights="nominal", activations=(), kv_read=(), kv_write="never"),
    "matmul": dict(weights="all", activations=(), kv_read=("K", "V"), kv_write="always"),
    "exact": dict(weights="all", activations=("attention input", "attention output", "FFN output"),
                  kv_read=("K", "V"), kv_write="always", embedding="rows", experts="touched"),
}


def weight_tensors(a: dict, *, everything: bool, tokens: int | None = None):
    """(term, shape, copies) of every weight tensor read in a pass; ``everything``: biases, norms, tables too;
    ``tokens`` (the ``exact`` preset): the tables by the rows gathered, routed experts as many as touched."""
    H, q, kv = a["hidden"], a["heads"] * a["head_dim"], a["kv_heads"] * a["head_dim"]
    norm = [(H,), (H,)] if a["norm"] == "layernorm" else [(H,)]       # LayerNorm: weight and bias
    E, k = a["experts"], min(a["k"], a["experts"])
    routed = Fraction(E) if tokens is None else E * (1 - Fraction(E - k, E) ** tokens)
    experts = [(routed, ""), (Fraction(a["shared"]), "")] if E > 1 else [(Fraction(1), "")]
    F = a["ffn"]
    ffn = (["ffn/gate"] if a["gated"] else []) + ["ffn/up", "ffn/down"]
    one = Fraction(1)
    for _ in range(a["layers"]):
        yield "attention/q", (H, q), one
        yield "attention/k", (H, kv), one
        yield "attention/v", (H, kv), one
        yield "attention/out", (q, H), one
        for copies, _ in experts:
            for name in ffn:
                yield name, ((F, H) if name == "ffn/down" else (H, F)), copies
        if a["experts"] > 1:
            yield "ffn/router", (H, a["experts"]), one
        if not everything:
            continue
        if a["qkv_bias"]:
            yield from (("attention/q", (q,), one), ("attention/k", (kv,), one), ("attention/v", (kv,), one))
        if a["out_bias"]:
            yield "attention/out", (H,), one
        if a["mlp_bias"]:
            for copies, _ in experts:
                for name in ffn:
                    yield name, ((H,) if name == "ffn/down" else (F,)), copies
        for _norm in ("before attention", "before FFN"):
            for shape in norm:
                yield "norm", shape, one
    if everything:
        rows = a["vocab"] if tokens is None else tokens
        yield "embedding", (rows, H), one
        if a["positions"]:
            yield "positions", (a["positions"] if tokens is None else tokens, H), one
        for shape in norm:
            yield "final_norm", shape, one
        if not a["tied"]:
            yield "lm_head", (a["vocab"], H), one
        elif tokens is not None:
            yield "lm_head", (a["vocab"], H), one      # the tied table, read once by the head


def walk(a: dict, preset: str, batch: int, new: int, cached: int) -> dict[str, Fraction]:
    """Bytes by symroof term name, summed tensor by tensor."""
    spec = SPEC[preset]
    out: dict[str, Fraction] = {}

    def move(term: str, shape: tuple[int, ...], elem: Fraction) -> None:
        out[term] = out.get(term, 0) + prod(shape) * elem

    if spec["weights"] == "nominal":
        elements = a["params_b"] * 10**9 if a["params_b"] is not None else sum(
            prod(s) * c for _, s, c in weight_tensors(a, everything=True))
        move("weights", (1,), elements * a["b_w"])
    elif spec["weights"] in ("matrices", "all"):
        tokens = batch * new if spec.get("experts") == "touched" else None
        for term, shape, copies in weight_tensors(a, everything=spec["weights"] == "all", tokens=tokens):
            move("weights/" + term, shape, a["b_w"] * copies)
    per_head = (a["kv_heads"], a["head_dim"])
    write = spec["kv_write"] == "always" or (spec["kv_write"] == "decode" and cached > 0)
    for _layer in range(a["layers"]):
        for _activation in spec["activations"]:
            move("activations", (batch, new, a["hidden"]), a["b_a"])
        for _seq in range(batch):
            for _tensor in spec["kv_read"]:
                move("kv/read", (cached, *per_head), a["b_kv"])
            if write:
                for _tensor in ("K", "V"):
                    move("kv/write", (new, *per_head), a["b_kv"])
    return {k: v for k, v in out.items() if v}


def to_arch(a: dict) -> symroof.Arch:
    return symroof.Arch(
        hidden=a["hidden"], layers=a["layers"], heads=a["heads"], kv_heads=a["kv_heads"], head_dim=a["head_dim"],
        ffn_dim=a["ffn"], ffn_kind="gated" if a["gated"] else "dense", vocab=a["vocab"], tied_embeddings=a["tied"],
        weight_bytes=a["b_w"], act_bytes=a["b_a"], kv_bytes=a["b_kv"], params_b=a["params_b"], norm=a["norm"],
        qkv_bias=a["qkv_bias"], out_bias=a["out_bias"], mlp_bias=a["mlp_bias"], max_positions=a["positions"],
        experts=a["experts"], experts_per_token=min(a["k"], a["experts"]),
        shared_experts=a["shared"] if a["experts"] > 1 else 0,
    )


ELEMENT = st.sampled_from([Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4)])


@st.composite
def archs(draw):
    kv_heads = draw(st.integers(1, 3))
    heads = kv_heads * draw(st.integers(1, 3))
    experts = draw(st.sampled_from([1, 1, 2, 4]))
    return dict(
        hidden=draw(st.integers(1, 12)), layers=draw(st.integers(1, 3)), heads=heads, kv_heads=kv_heads,
        head_dim=draw(st.integers(1, 6)), ffn=draw(st.integers(1, 13)), gated=draw(st.booleans()),
        vocab=draw(st.integers(1, 17)), tied=draw(st.booleans()), b_w=draw(ELEMENT), b_a=draw(ELEMENT),
        b_kv=draw(ELEMENT), params_b=draw(st.sampled_from([None, Fraction(7, 10), Fraction(8)])),
        norm=draw(st.sampled_from(["rmsnorm", "layernorm"])), qkv_bias=draw(st.booleans()),
        out_bias=draw(st.booleans()), mlp_bias=draw(st.booleans()), positions=draw(st.sampled_from([0, 5])),
        experts=experts, k=draw(st.integers(1, 2)), shared=draw(st.integers(0, 1)),
    )


def exact(terms) -> dict[str, Fraction]:
    return {k: Fraction(int(v.p), int(v.q)) for k, v in terms.items()}


@settings(max_examples=150, deadline=None)
@given(a=archs(), preset=st.sampled_from(list(SPEC)), batch=st.integers(1, 3), new=st.integers(1, 4),
       cached=st.integers(0, 6))
def test_byte_terms_match_tensor_walk(a, preset, batch, new, cached):
    cost = symroof.step(to_arch(a), preset, B=batch, S_i=new, S_c=cached)
    assert all(isinstance(v, sympy.Rational) for v in cost.byte_terms.values())
    expected = walk(a, preset, batch, new, cached)
    assert exact(cost.byte_terms) == expected
    assert cost.bytes == sum(expected.values())


@settings(max_examples=40, deadline=None)
@given(a=archs(), preset=st.sampled_from(list(SPEC)), batch=st.integers(1, 3), prompt=st.integers(1, 6))
def test_prefill_and_decode_bytes_match_tensor_walk(a, preset, batch, prompt):
    arch = to_arch(a)
    assert exact(symroof.prefill(arch, preset, B=batch, S=prompt).byte_terms) == walk(a, preset, batch, prompt, 0)
    assert exact(symroof.decode(arch, preset, B=batch, S_c=prompt).byte_terms) == walk(a, preset, batch, 1, prompt)


def test_walker_reproduces_seed_figures():
    """The walker itself against the seeds' printed numbers (so a wrong walker cannot pass by agreeing)."""
    llama3_8b = dict(hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=128, ffn=14336, gated=True,
                     vocab=128256, tied=False, b_w=2, b_a=2, b_kv=2, params_b=None, norm="rmsnorm",
                     qkv_bias=False, out_bias=False, mlp_bias=False, positions=0, experts=1, k=1, shared=0)
    one_layer = dict(llama3_8b, layers=1)
    # 002, decode, per layer: "KV cache READ ... 32 x 1024 x 8 x 128 x 2 x 2 = 134,217,728 bytes",
    # "KV cache WRITE ... 32 × 1 × 8 × 128 × 2 × 2 = 131,072 bytes"; weights "480MB" per layer
    dec = walk(one_layer, "roofline-notes", 32, 1, 1024)
    assert dec["kv/read"] == 134_217_728 and dec["kv/write"] == 131_072
    weights = sum(v for k, v in dec.items() if k.startswith("weights/"))
    # W_q, W_o: 4096·4096; W_k, W_v: 4096·1024; gate, up, down: 4096·14336; 2 bytes each
    assert weights == (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336) * 2 == 436_207_616
    # 002 prints "436 MB (weights)" in its prefill total but "480MB" per layer elsewhere (a slip)
    assert round(weights / 10**6) == 436
    # 000, prefill: 2·Z·10^9 + 4·N·B·S·H bytes
    gpt = dict(llama3_8b, params_b=Fraction(7), kv_heads=32, head_dim=128)
    pre = walk(gpt, "arithmetic-intensity", 4, 100, 0)
    assert pre == {"weights": 2 * 7 * 10**9, "activations": 4 * 32 * 4 * 100 * 4096}
