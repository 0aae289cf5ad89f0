"""Keys and query-key pairs of one step, counted by enumerating the attention mask.

The expected values here never use symroof's formulas: for every new query position the test
lists the key positions its mask lets through (full causal, a sliding window of ``W`` positions,
chunks of ``C``), and counts them. Steps with several new tokens (``S_i > 1``) over a cache that
is shorter, equal to and longer than the window or chunk are covered, both with concrete steps
and by substituting the numbers into the symbolic formula (``S_c``, ``S_i``, ``W`` or ``C_a`` as
symbols), which takes the ``Min``/``Max``/``floor`` branches the concrete path folds away.
"""

from __future__ import annotations

import itertools

import pytest
import sympy
from symroof.conventions import get

from symroof.cost.step import Step, cached_visible, key_count, query_key_pairs
from symroof.model.layers import Attention
from symroof.symbols import S_c, S_i, W

EXACT = get("exact")  # causal scores, cached+new keys
DENSE = EXACT.replace(scores="dense")
CACHED = EXACT.replace(keys="cached")
C_sym = sympy.Symbol("C_a", positive=True, integer=True)


def visible(query: int, kind: str, size: int) -> list[int]:
    """0-based key positions the query at 0-based position ``query`` may see."""
    if kind == "full":
        return list(range(query + 1))
    if kind == "sliding":  # the last `size` positions, itself included
        return [k for k in range(query + 1) if query - k < size]
    start = (query // size) * size  # chunked: its own chunk, up to itself
    return list(range(start, query + 1))


def enumerate_step(kind: str, size: int, cached: int, new: int) -> tuple[int, int]:
    """(pairs, cached keys seen by any new query) by listing the mask."""
    queries = range(cached, cached + new)
    pairs = sum(len(visible(q, kind, size)) for q in queries)
    seen = {k for q in queries for k in visible(q, kind, size) if k < cached}
    return pairs, len(seen)


def layer(kind: str, size):
    if kind == "full":
        return Attention(4, head_dim=8)
    if kind == "sliding":
        return Attention(4, head_dim=8, window=size)
    return Attention(4, head_dim=8, chunk=size)


CASES = [
    (kind, size, cached, new)
    for kind in ("full", "sliding", "chunked")
    for size in (1, 2, 3, 5)
    for cached in (0, 1, 2, 4, 5, 7, 11)
    for new in (1, 2, 3, 6, 9)
]


@pytest.mark.parametrize("kind,size,cached,new", CASES)
def test_causal_pairs_and_visible_cache_match_the_mask(kind, size, cached, new):
    pairs, seen = enumerate_step(kind, size, cached, new)
    att = layer(kind, size)
    step = Step(2, new, cached)
    assert query_key_pairs(EXACT, step, att) == pairs
    assert cached_visible(EXACT, step, att) == seen
    assert key_count(EXACT, step, att) == seen + new
    # dense scores: every new query against every key the kernel holds, which for a sliding or
    # chunked layer is what its cache keeps, the last size - 1 tokens
    kept = cached if kind == "full" else min(cached, size - 1)
    assert cached_visible(DENSE, step, att) == kept
    assert query_key_pairs(DENSE, step, att) == new * (kept + new)


SYMBOLIC = [c for c in CASES if c[0] != "full" and c[2] in (0, 2, 5, 11) and c[3] in (2, 3, 9)]


@pytest.mark.parametrize("kind,size,cached,new", SYMBOLIC)
def test_symbolic_pairs_substituted_match_the_mask(kind, size, cached, new):
    pairs, seen = enumerate_step(kind, size, cached, new)
    span = W if kind == "sliding" else C_sym
    att = layer(kind, span)
    values = {S_c: cached, S_i: new, span: size}
    general = query_key_pairs(EXACT, Step(2, S_i, S_c), att)
    assert sympy.simplify(general.subs(values)) == pairs
    # one symbol at a time: the window known, the step symbolic, and the other way round
    by_step = query_key_pairs(EXACT, Step(2, S_i, S_c), layer(kind, size))
    assert sympy.simplify(by_step.subs({S_c: cached, S_i: new})) == pairs
    by_size = query_key_pairs(EXACT, Step(2, new, cached), att)
    assert sympy.simplify(by_size.subs(span, size)) == pairs
    visible_cached = cached_visible(EXACT, Step(2, S_i, S_c), att)
    assert sympy.simplify(visible_cached.subs(values)) == seen


def test_cached_keys_convention_scores_the_cached_keys_only():
    # 000's decode accounting: S_i queries against the cached keys they see, none of the new
    for kind, size, cached, new in itertools.product(("full", "sliding", "chunked"), (3,), (4, 7), (1, 2)):
        _, seen = enumerate_step(kind, size, cached, new)
        step = Step(1, new, cached)
        assert key_count(CACHED, step, layer(kind, size)) == seen
        assert query_key_pairs(CACHED, step, layer(kind, size)) == new * seen


def test_dense_scores_of_a_chunked_layer_hold_every_kept_token():
    # an eager kernel holds the last C_a - 1 cached tokens a chunked layer keeps, not S_c mod C_a
    att = Attention(4, head_dim=8, chunk=4)
    assert cached_visible(DENSE, Step(1, 1, 9), att) == 3  # min(9, 4 - 1)
    assert cached_visible(EXACT, Step(1, 1, 9), att) == 1  # 9 mod 4: position 9 opens a new chunk after 8
    assert query_key_pairs(DENSE, Step(1, 2, 9), att) == 2 * (3 + 2)
