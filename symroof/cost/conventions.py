"""`Conventions`: the accounting choices on which the source documents differ.

Each document is a named preset that reproduces it exactly:

=======================  ==========================================================
``arithmetic-intensity``  000/001 (jamesnulliu): MHA, 2·Z·10^9 weight bytes, layer
                          input+output activations, dense scores, KV read of one
                          of K/V (an erratum kept for fidelity)
``roofline-notes``        002: weights from the architecture's own parameter count,
                          fused-kernel activations, dense scores
``inference-arithmetic``  003 (kipply): FLOPs and weight bytes both from the
                          parameter count (2·P per token), nothing else
``matmul``                what a framework matmul FLOP counter reports for a
                          Hugging Face causal LM (every linear incl. the LM head at
                          every position, scores and values dense)
``exact``                 symroof's own best estimate: causal pairs, K and V read,
                          LM head on the last position only, fused activations
=======================  ==========================================================

Beyond the seeds (every default leaves the presets' numbers as they are):
``experts_read`` and ``expert_parallel`` (mixture of experts, `symroof.moe`),
``mla`` (multi-head latent attention, `symroof.mla`), ``attention_kernel`` and
``query_block`` (how attention's K, V and scores reach memory), and ``comms`` (the
tensor-parallel communication model of every latency, `symroof.timing.communication`:
003's own under ``inference-arithmetic``, Megatron's ring all-reduces elsewhere).

Examples
--------
>>> get("arithmetic-intensity").kv_read
'one'
>>> get("exact").replace(attention_kernel="flash", query_block=64).query_block
64
>>> get("nonsense")
Traceback (most recent call last):
...
ValueError: unknown conventions 'nonsense'; presets: arithmetic-intensity, roofline-notes, ...
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from symroof._values import as_count, choice

__all__ = ["PRESETS", "Conventions", "get", "resolve"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "flops": ("components", "params"),
    "scores": ("dense", "causal", "none"),
    "keys": ("cached+new", "cached"),
    "lm_head": ("none", "all", "last"),
    "weights": ("nominal", "matrices", "all", "none"),
    "activations": ("layer-io", "fused", "none"),
    "kv_read": ("k+v", "one", "none"),
    "kv_write": ("always", "decode", "none"),
    "latency": ("max", "sum"),
    "units": ("decimal", "binary"),
    "experts_read": ("all", "touched"),
    "mla": ("naive", "absorbed"),
    "attention_kernel": ("ideal", "flash", "unfused"),
    "comms": ("allreduce", "003", "none"),
    "rope": ("none", "matmul"),
    "mla_prefill": ("same", "naive", "absorbed"),
    "embedding_read": ("table", "rows"),
    "state_scan": ("algorithm", "counter"),
}
_COUNTS = ("expert_parallel", "query_block")


@dataclass(frozen=True)
class Conventions:
    """What to count.

    Attributes
    ----------
    flops:
        ``components`` sums the matmuls of each block; ``params`` counts
        ``2·P`` FLOPs per token with P the nominal parameter count (003's
        ``2·P``: 2·Z·10^9 per token).
    scores:
        attention scores and values (``QK^T`` and ``AV``): ``dense`` counts
        every query-key pair; ``causal`` only pairs a causal mask keeps
        (``S_i·S_c + S_i(S_i+1)/2`` per sequence); ``none`` leaves them out.
    keys:
        which keys the ``S_i`` new tokens attend to. ``cached+new``: the S_c
        cached tokens and the new ones (what a kernel does once the new K, V are
        appended). ``cached``: only the S_c cached tokens, as 000's decode formula
        ``4·B·S_i·S_c·H`` counts; with an empty cache (prefill) the prompt attends
        to itself, as 000's prefill ``4·B·S^2·H`` does.
    lm_head:
        the output projection: ``none``; ``all`` positions (a forward pass of a
        Hugging Face model); ``last`` position of each sequence (what a serving
        engine computes).
    weights:
        weight bytes, each weight read once per forward pass. ``nominal``:
        ``b_w·Z·10^9`` from the nominal size in billions (000, 003's ``2·P``);
        ``matrices``: the layers' weight matrices only, no norms, biases or
        embeddings (002's per-layer figure, 003's ``12·N·d^2``); ``all``: every
        parameter of the model (embedding table, LM head unless tied, norms,
        biases); ``none``.
    activations:
        ``layer-io``: each layer reads its input and writes its output
        (000: ``4·N·B·S·H`` bytes in fp16); ``fused``: well-fused kernels
        read the attention input and write the attention and FFN outputs
        (002: ``3·B·S·H·b_a`` per layer); ``none``.
    kv_read:
        ``k+v``: both cached K and V are read; ``one``: only one of them, as
        000's formula ``N(B·S_c·H + 2·B·S_i·H)·2`` does (an erratum); ``none``.
    kv_write:
        new K and V written: ``always``; ``decode``: only when the cache is not
        empty (000 counts no KV bytes in prefill); ``none``.
    latency:
        ``max(compute, memory)`` (roofline) or their ``sum``; communication time is
        added to either. 003 uses ``max`` plus communication: its small-batch
        "compute" ``2P/(N·A_bm)`` is the memory time, its large-batch one the FLOP
        time, and its totals (27 ms, 62 ms) add comms to whichever binds.
    units:
        ``decimal`` (GB = 10^9) or ``binary`` (GiB = 2^30) when printing.
    experts_read:
        routed experts whose weights a MoE layer reads: ``all`` of them (large
        batch), or the expected number ``touched`` by the pass's ``B·S_i`` tokens
        under uniform routing, ``E·(1 − (1 − k/E)^(B·S_i))`` (`symroof.moe`).
    expert_parallel:
        EP degree: routed experts split over EP GPUs; the cost is one GPU's, each
        GPU running attention for its own ``B`` sequences (`symroof.moe`). 1: none.
    mla:
        multi-head latent attention: ``naive`` up-projects every cached latent in
        each pass; ``absorbed`` folds the up-projections into the query and the
        output and scores in the latent space (`symroof.mla`).
    attention_kernel:
        ``ideal``: scores never reach memory and the cached K, V are read once
        (the seeds' accounting). ``flash``: FlashAttention-2-style, scores stay on
        chip but K and V of every key are read once per block of ``query_block``
        queries, ``ceil(S_i/query_block)`` times (with causal ``scores``, blocks
        above the diagonal are skipped). ``unfused``: the ``S_i × keys`` score
        matrix of every head is written, read by the softmax, written as
        probabilities and read by ``A·V`` (four passes of ``b_a`` bytes each).
    query_block:
        queries per block of the ``flash`` kernel (default 128, the larger of the block
        sizes FlashAttention-2 tunes over, {64, 128}: arXiv 2307.08691 §3.3;
        `symroof.components.flash_query_block` derives it from the on-chip memory as
        FlashAttention's Algorithm 1 does). A number or a symbol.
    comms:
        tensor-parallel communication of a forward pass (`symroof.timing.communication`):
        ``allreduce``: Megatron-LM's two ring all-reduces per layer of the ``B·S_i·H·b_a``
        hidden state (Shoeybi et al. 2019, §3; Narayanan et al. 2021, §2.3), each with
        NCCL's latency (6.6 µs + 0.6 µs per ring step); ``003``: 003's four messages per
        layer of ``B·S_i·H`` elements plus 10 µs each; ``none``.
    mla_prefill:
        the MLA form of a pass over an empty cache (prefill): ``same`` as ``mla``, or
        ``naive``/``absorbed`` (serving engines prefill with the decompressed, naive form and
        decode absorbed: vLLM's MLA backends, SGLang).
    embedding_read:
        bytes of the input embedding under ``weights="all"``: the whole ``table`` each pass, or the
        ``rows`` the lookup gathers, ``B·S_i`` of them (a tied LM head then reads the table once).
    state_scan:
        the scan of state-space and linear-attention mixers (`symroof.cost.statespace`):
        ``algorithm`` counts the recurrence per decoded token and the chunked algorithms in a
        prefill (SSD, the chunked delta rule); ``counter`` counts what ``FlopCounterMode`` sees in
        transformers' torch implementation (its matmuls, einsums and convolutions only, padded
        chunks and padded conv outputs included): the ``matmul`` preset's choice.
    rope:
        the rotary embedding's angle table, ``positions ⊗ inv_freq``, computed once per forward
        pass: ``none`` (an elementwise product, as transformers 5.24 computes it, or not
        counted); ``matmul``: the ``(d_r/2, 1) @ (1, S_i)`` product that transformers
        5.17-5.18 dispatch as a ``bmm``, once per pass for the whole batch (their default
        ``position_ids`` have batch 1): ``2·(d_r/2)·S_i`` FLOPs, the term ``rope``, with ``d_r``
        the rotary width (0 for learned positions).
    """

    flops: Literal["components", "params"] = "components"
    scores: Literal["dense", "causal", "none"] = "dense"
    keys: Literal["cached+new", "cached"] = "cached+new"
    lm_head: Literal["none", "all", "last"] = "none"
    weights: Literal["nominal", "matrices", "all", "none"] = "matrices"
    activations: Literal["layer-io", "fused", "none"] = "layer-io"
    kv_read: Literal["k+v", "one", "none"] = "k+v"
    kv_write: Literal["always", "decode", "none"] = "always"
    latency: Literal["max", "sum"] = "max"
    units: Literal["decimal", "binary"] = "decimal"
    name: str = "custom"
    experts_read: Literal["all", "touched"] = "all"
    expert_parallel: Any = 1
    mla: Literal["naive", "absorbed"] = "naive"
    attention_kernel: Literal["ideal", "flash", "unfused"] = "ideal"
    query_block: Any = 128
    comms: Literal["allreduce", "003", "none"] = "allreduce"
    rope: Literal["none", "matmul"] = "none"
    mla_prefill: Literal["same", "naive", "absorbed"] = "same"
    embedding_read: Literal["table", "rows"] = "table"
    state_scan: Literal["algorithm", "counter"] = "algorithm"

    def __post_init__(self) -> None:
        for field, allowed in _CHOICES.items():
            choice(getattr(self, field), field, allowed)
        if not isinstance(self.name, str):
            raise ValueError(f"name={self.name!r} must be a string")
        for field in _COUNTS:
            object.__setattr__(self, field, as_count(getattr(self, field), field))

    def replace(self, **changes: Any) -> Conventions:
        """A copy with some choices changed (and named ``custom`` unless a name is given)."""
        changes.setdefault("name", "custom")
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, Conventions] = {
    "arithmetic-intensity": Conventions(
        scores="dense", keys="cached", lm_head="none", weights="nominal",
        activations="layer-io", kv_read="one", kv_write="decode", latency="max",
        name="arithmetic-intensity",
    ),
    "roofline-notes": Conventions(
        scores="dense", keys="cached+new", lm_head="none", weights="matrices",
        activations="fused", kv_read="k+v", kv_write="always", latency="max",
        name="roofline-notes",
    ),
    "inference-arithmetic": Conventions(
        flops="params", scores="none", lm_head="none", weights="nominal",
        activations="none", kv_read="none", kv_write="none", latency="max", comms="003",
        name="inference-arithmetic",
    ),
    "matmul": Conventions(
        scores="dense", keys="cached+new", lm_head="all", weights="all",
        activations="none", kv_read="k+v", kv_write="always", latency="max", name="matmul", state_scan="counter",
    ),
    # what a serving engine does: the experts the batch touches, MLA absorbed in decode and naive in
    # prefill (vLLM's and SGLang's MLA backends), the embedding rows a lookup gathers
    "exact": Conventions(
        scores="causal", keys="cached+new", lm_head="last", weights="all",
        activations="fused", kv_read="k+v", kv_write="always", latency="max", name="exact",
        experts_read="touched", mla="absorbed", mla_prefill="naive", embedding_read="rows",
    ),
}

_ALIASES = {"000": "arithmetic-intensity", "001": "arithmetic-intensity",
            "002": "roofline-notes", "003": "inference-arithmetic"}


def get(name: str) -> Conventions:
    """The preset called ``name`` (or a seed number ``"000"``, ``"002"``, ``"003"``)."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    try:
        return PRESETS[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown conventions {name!r}; presets: {', '.join(PRESETS)}") from None


def resolve(conventions: Conventions | str | None) -> Conventions:
    """Accept a `Conventions`, a preset name, or None (the ``exact`` preset)."""
    if conventions is None:
        return PRESETS["exact"]
    if isinstance(conventions, Conventions):
        return conventions
    return get(conventions)
