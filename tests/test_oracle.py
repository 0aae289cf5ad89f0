"""symroof's ``matmul`` preset == PyTorch's FlopCounterMode on tiny Hugging Face causal LMs, exactly.

The oracle is independent of symroof: transformers builds Llama-, GPT-2- and
Mixtral-style models from configs on the ``meta`` device (no weights, no
download), the forward runs under fake tensors, and ``FlopCounterMode`` counts
the FLOPs of every matmul the model dispatches (see ``tests/oracle_models.py`` for
what it counts and leaves out). Skipped unless the ``oracle`` extra (torch,
transformers) is installed.

Print the counts side by side: ``python -m tests.test_oracle``.
"""

from __future__ import annotations

import functools

import pytest

import symroof
from tests import oracle_models as om

om.require("torch")
om.require("transformers")

COUNTED_OPS = {"aten.mm", "aten.addmm", "aten.bmm"}

# (model, B, S, S_i): prefill of S tokens, then one step of S_i new tokens over S_c = S cached.
CASES = [
    ("llama-gqa", 2, 5, 1),
    ("llama-gqa", 1, 17, 3),
    ("llama-mqa-bias", 1, 33, 1),
    ("llama-mqa-bias", 3, 2, 2),
    ("llama-mha-eager", 3, 1, 4),
    ("llama-mha-eager", 2, 9, 1),
    ("gpt2", 2, 5, 1),
    ("gpt2", 3, 12, 2),
    ("gpt2-inner", 1, 1, 1),
    ("gpt2-inner", 2, 17, 4),
    ("mixtral", 2, 5, 1),
    ("mixtral", 3, 7, 2),
    ("mixtral-top1", 1, 13, 1),
]


@functools.cache
def lm(name: str):
    return om.build(om.MODELS[name])


@functools.cache
def hf_dict(name: str) -> dict:
    return om.MODELS[name].hf_config().to_dict()


@functools.cache
def counted(name: str, batch: int, new: int, cached: int):
    return om.count_step(lm(name), batch, new, cached)


def symroof_step(name: str, builder: str, batch: int, new: int, cached: int) -> symroof.Cost:
    arch = om.builders()[builder](hf_dict(name))
    return symroof.step(arch, om.matmul_conventions(), B=batch, S_i=new, S_c=cached)


def phases(case):
    name, batch, prompt, new = case
    return [(name, batch, prompt, 0), (name, batch, new, prompt)]    # prefill; step over the prompt


STEPS = [p for case in CASES for p in phases(case)]
BUILDERS = list(om.builders())


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("name,batch,new,cached", STEPS, ids=[f"{n}-B{b}-Si{s}-Sc{c}" for n, b, s, c in STEPS])
def test_flops_match_counter_exactly(name, batch, new, cached, builder):
    table, ops = counted(name, batch, new, cached)
    cost = symroof_step(name, builder, batch, new, cached)
    # only matmuls were counted: every other op (norms, softmax, rotary, activations, adds) counts 0
    assert set(ops) <= COUNTED_OPS, ops
    assert cost.flops == sum(ops.values())
    # term by term: the counter's modules, summed over layers, against symroof's named terms
    groups = om.by_group(table)
    assert om.fold(cost.flop_terms, list(groups)) == groups
    assert sum(groups.values()) == sum(ops.values())     # every counted FLOP was attributed to a module


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("name", list(om.MODELS))
def test_parameter_count_matches_meta_model(name, builder):
    total, inner = om.parameters(lm(name))
    arch = om.builders()[builder](hf_dict(name))
    assert symroof.total_parameters(arch) == total
    # outside the embedding table(s) and the LM head: the layers and the final norm
    assert symroof.total_parameters(arch, embeddings=False) == inner


def test_moe_counts_active_experts_not_all():
    """batched_mm gathers the k selected experts' weights per token: k, not E, experts are counted."""
    name, batch, new = "mixtral", 2, 3
    _, ops = counted(name, batch, new, 0)
    arch = om.local_arch(hf_dict(name))
    assert (arch.experts, arch.experts_per_token) == (4, 2)
    assert symroof.step(arch, om.matmul_conventions(), B=batch, S_i=new, S_c=0).flops == sum(ops.values())
    every_expert = symroof.step(arch.replace(experts_per_token=4), om.matmul_conventions(), B=batch, S_i=new, S_c=0)
    assert every_expert.flops != sum(ops.values())
    # the difference is exactly the two extra experts' three matrices: 2 · 3 · (B·S_i) · H · F
    assert every_expert.flops - sum(ops.values()) == 2 * 2 * 3 * (batch * new) * 64 * 96 * 2   # · N=2 layers


def test_real_cpu_tensors_hide_sdpa_attention():
    """The pitfall behind the fake-tensor setup: on real CPU tensors the SDPA kernel counts 0 FLOPs."""
    import torch
    import transformers
    from torch.utils.flop_counter import FlopCounterMode

    config = transformers.LlamaConfig(**om.MODELS["llama-gqa"].config)
    batch, prompt = 1, 4
    attention = {}
    for impl in ("sdpa", "eager"):
        with torch.device("cpu"):
            model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation=impl)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(input_ids=torch.zeros(batch, prompt, dtype=torch.long))
        table = {m: {str(o): int(n) for o, n in ops.items()} for m, ops in counter.get_flop_counts().items()}
        attention[impl] = om.by_group(table)[om.SCORES_AND_VALUES]
    # scores + values, hand count: 2 layers · 2 · (2·B·n_h·S·S·d_h) = 2·2·(2·1·4·4·4·24)
    assert attention == {"sdpa": 0, "eager": 2 * 2 * (2 * 1 * 4 * 4 * 4 * 24)}


def side_by_side() -> str:
    """A table of symroof's FLOPs beside the counter's, for each model and phase."""
    rows = ["| model | phase | B | S_i | S_c | symroof (matmul) | FlopCounterMode | equal |",
            "|---|---|---|---|---|---|---|---|"]
    for name, batch, new, cached in STEPS:
        _, ops = counted(name, batch, new, cached)
        ours = int(symroof_step(name, "local", batch, new, cached).flops)
        theirs = sum(ops.values())
        phase = "prefill" if cached == 0 else ("decode" if new == 1 else "step")
        rows.append(f"| {name} | {phase} | {batch} | {new} | {cached} | {ours:,} | {theirs:,} | {ours == theirs} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(side_by_side())
