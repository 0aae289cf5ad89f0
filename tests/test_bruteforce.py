"""symroof's symbolic totals == an independent shape-by-shape matmul count, over random shapes."""

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof.cost.conventions import get
from tests.bruteforce import Tiny, count_flops, kv_bytes


@st.composite
def tiny_models(draw):
    kv_heads = draw(st.integers(1, 3))
    heads = kv_heads * draw(st.integers(1, 3))           # MHA when the group is 1, else GQA/MQA
    head_dim = draw(st.integers(1, 5))
    explicit_head_dim = draw(st.booleans())
    hidden = draw(st.integers(1, 9)) if explicit_head_dim else heads * head_dim
    return Tiny(hidden=hidden, layers=draw(st.integers(1, 3)), heads=heads, kv_heads=kv_heads,
                head_dim=head_dim, ffn_dim=draw(st.integers(1, 13)), gated=draw(st.booleans()),
                vocab=draw(st.integers(1, 17)))


def to_arch(m: Tiny) -> symroof.Arch:
    return symroof.Arch(hidden=m.hidden, layers=m.layers, heads=m.heads, kv_heads=m.kv_heads,
                        head_dim=m.head_dim, ffn_dim=m.ffn_dim, ffn_kind="gated" if m.gated else "dense",
                        vocab=m.vocab, weight_bytes=2, act_bytes=2, kv_bytes=2)


CASES = dict(batch=st.integers(1, 3), new=st.integers(1, 4), cached=st.integers(0, 5))


@settings(max_examples=300, deadline=None)
@given(m=tiny_models(), **CASES, causal=st.booleans(), lm_head=st.sampled_from(["all", "last", "none"]))
def test_step_flops_match_bruteforce(m, batch, new, cached, causal, lm_head):
    conv = get("matmul").replace(scores="causal" if causal else "dense", lm_head=lm_head)
    cost = symroof.step(to_arch(m), conv, B=batch, S_i=new, S_c=cached)
    expected = count_flops(m, batch, new, cached, causal=causal, lm_head=lm_head)
    got = {k: int(v) for k, v in cost.flop_terms.items()}
    assert got == {k: v for k, v in expected.items() if v}
    assert cost.flops == sum(expected.values())


@settings(max_examples=100, deadline=None)
@given(m=tiny_models(), batch=st.integers(1, 3), prompt=st.integers(1, 5))
def test_prefill_and_decode_are_steps(m, batch, prompt):
    arch = to_arch(m)
    pre = symroof.prefill(arch, "matmul", B=batch, S=prompt)
    assert pre.flops == sum(count_flops(m, batch, prompt, 0, causal=False, lm_head="all").values())
    dec = symroof.decode(arch, "matmul", B=batch, S_c=prompt)
    assert dec.flops == sum(count_flops(m, batch, 1, prompt, causal=False, lm_head="all").values())


@settings(max_examples=100, deadline=None)
@given(m=tiny_models(), **CASES)
def test_kv_bytes_match_bruteforce(m, batch, new, cached):
    cost = symroof.step(to_arch(m), "exact", B=batch, S_i=new, S_c=cached)
    read, written = kv_bytes(m, batch, new, cached, elem=2)
    assert cost.bytes_of("kv/read") == read
    assert cost.bytes_of("kv/write") == written


def test_symbolic_equals_numeric_substitution():
    """The symbolic step, substituted, equals the step built from numbers."""
    arch = symroof.Arch(hidden=64, layers=2, heads=4, kv_heads=2, ffn_dim=96, ffn_kind="gated", vocab=100)
    sym_cost = symroof.step(arch, "exact")
    for b, si, sc in [(1, 1, 0), (3, 2, 7), (5, 4, 1)]:
        num = symroof.step(arch, "exact", B=b, S_i=si, S_c=sc)
        assert sym_cost.subs(B=b, S_i=si, S_c=sc).flops == num.flops
        assert sym_cost.subs(B=b, S_i=si, S_c=sc).bytes == num.bytes
        assert isinstance(num.flops, sympy.Integer)
