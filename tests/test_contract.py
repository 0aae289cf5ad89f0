"""The Python names fixed by the design note's contract exist and behave as it says."""

import pytest
import sympy

import symroof
from symroof.symbols import B, H, N, S, S_c, S_i, Z


def test_symbols_are_positive_and_counts_are_integers():
    for s in (B, S, S_i, S_c, H, N):
        assert s.is_positive and s.is_integer
    assert Z.is_positive and not Z.is_integer


def test_phases_keep_workload_symbols():
    arch = symroof.Arch.symbolic()
    assert {B, S} <= symroof.prefill(arch, "roofline-notes").flops.free_symbols
    assert {B, S_i, S_c} <= symroof.step(arch, "roofline-notes").flops.free_symbols
    assert S_i not in symroof.decode(arch, "roofline-notes").flops.free_symbols


# Llama-3-8B decode FLOPs at B = 8 over S_c = 1024, by hand from its config (H 4096, 32 layers, 32 query and
# 8 KV heads of 128, gated FFN 14336, vocabulary 128256): per layer and token the weight matmuls cost
# 2·(2·4096² + 2·4096·1024 + 3·4096·14336) = 436,207,616 and each query-key pair 2·2·32·128 = 16,384
# (score and value); the LM head 2·4096·128256 per position; 003 counts 2·P per token instead.
_LAYER, _PAIR, _HEAD, _P = 436_207_616, 16_384, 2 * 4096 * 128256, 8_030_261_248
PRESET_DECODE_FLOPS = {
    "arithmetic-intensity": 8 * 32 * (_LAYER + _PAIR * 1024),            # 000: the S_c cached keys, no LM head
    "roofline-notes": 8 * 32 * (_LAYER + _PAIR * 1025),                  # 002: the new token's own key too
    "inference-arithmetic": 8 * 2 * _P,                                  # 003: 2·P FLOPs per token
    "matmul": 8 * (32 * (_LAYER + _PAIR * 1025) + _HEAD),                # every matmul, LM head included
}


@pytest.mark.parametrize("name", sorted(PRESET_DECODE_FLOPS))
def test_presets_by_name(name):
    assert symroof.conventions.get(name).name == name
    cost = symroof.decode(symroof.models.get("llama-3-8b"), conventions=name)
    flops = cost.subs(B=8, S_c=1024).flops
    assert isinstance(flops, sympy.Integer)
    assert flops == PRESET_DECODE_FLOPS[name]


def test_cost_subs_terms_and_shares():
    cost = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes").subs(B=32, S_c=1024)
    # 002: KV cache READ per layer = 32 x 1024 x 8 x 128 x 2 x 2 = 134,217,728 bytes
    assert cost.terms["bytes"]["kv/read"] == 32 * 134_217_728
    # 002 per layer: KV cache WRITE 32 x 1 x 8 x 128 x 2 x 2 = 131,072 bytes; in all 436,207,616 bytes of weight
    # matrices + 134,217,728 + 131,072 of KV + 3 fused (32, 4096) bf16 activations of 262,144 = 571,342,848
    assert cost.bytes_of("kv") == 32 * (134_217_728 + 131_072)
    assert cost.bytes == 32 * (436_207_616 + 134_217_728 + 131_072 + 3 * 262_144) == 32 * 571_342_848
    assert cost.bytes_of("kv") / cost.bytes == sympy.Rational(134_348_800, 571_342_848)
    assert set(cost.terms) == {"flops", "bytes"}


def test_cost_algebra():
    a = symroof.Cost(flops={"x": B}, bytes={"w": H})
    assert (a + a).flop_terms == {"x": 2 * B}
    assert (N * a).bytes == N * H
    assert sum([a, a, a]).flops == 3 * B
    with pytest.raises(TypeError):
        a + 1


def test_models_and_hardware():
    assert symroof.models.get("LLAMA-3-8B").kv_heads == 8
    gpu = symroof.hardware.get("A100-80GB")
    assert gpu.balance == sympy.Rational(312 * 10**12, 2039 * 10**9)
    with pytest.raises(ValueError, match="did you mean"):
        symroof.models.get("llama-3-8")
    with pytest.raises(ValueError, match="did you mean"):
        symroof.hardware.get("A100-80G")


def test_substitution_by_unknown_name_is_refused():
    with pytest.raises(KeyError, match="unknown symbol 'Q'"):
        symroof.Cost(flops={"x": B}).subs(Q=3)


def test_ci_runs_the_readme_test_command():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme, ci = (root / "README.md").read_text(), (root / ".ci" / "run").read_text()
    assert "```bash\npython -m pytest\n```" in readme
    runs = [line for line in ci.splitlines() if line.endswith("python -m pytest")]
    # the README's command, then the same with the seed documents' path pointing nowhere
    assert runs == ["python -m pytest", "SYMROOF_SEEDS=/nonexistent/seeds python -m pytest"]
    assert ci.rstrip().splitlines()[-1] == runs[-1]
    assert "-c constraints.txt" in ci and "export SYMROOF_REQUIRE_ORACLE=1" in ci


def test_old_flat_module_paths_still_import():
    """symroof 0.1's flat modules moved into model/, cost/, analysis/ and output/; their old paths import
    the same module objects."""
    import importlib

    import symroof

    for old, new in symroof._MOVED.items():
        assert importlib.import_module(f"symroof.{old}") is importlib.import_module(f"symroof.{new}")
        assert importlib.import_module(f"symroof.{new}").__spec__.name == f"symroof.{new}"
    from symroof.conventions import get
    from symroof.hf import from_hf_config

    assert get("matmul").lm_head == "all" and callable(from_hf_config)
