"""The claims against the seed documents themselves: each claim names a section of its document,
and its printed number or formula stands in that section.

The documents are an optional input (``$SYMROOF_SEEDS``, default ``../shared/seeds``; see
tests/scripts.py): without them every test here skips, for the one reason ``SEEDS_MISSING``.
Matching ignores whitespace, case, thousands separators and Markdown emphasis and code marks.
"""

import re
from pathlib import Path

import pytest

from tests.scripts import ROOT, SEEDS_MISSING, load_script, seed_file

SCRIPTS = ("seed_000", "seed_002", "seed_003")
MODULES = {name: load_script(ROOT / "derivations" / f"{name}.py", f"test_seed_documents_{name}") for name in SCRIPTS}
FILES = {name: [seed_file(f) for f in MODULES[name].DOCUMENTS] for name in SCRIPTS}

if not all(all(paths) for paths in FILES.values()):      # one skip, one reason line, for the module
    pytest.skip(SEEDS_MISSING, allow_module_level=True)

# Claims whose printed value is the project's reading of a sentence, not a figure of the document
# (there is nothing to look for, only the section): 001's tensor-parallel sentence read as formulas,
# and 003's verdict that the 52B weights do not fit on one GPU.
NO_FIGURE = {"seed_000": {"tp/flops", "tp/weights"}, "seed_003": {"capacity/one-gpu"}}

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def squash(text: str) -> str:
    """Text for matching: lower case, without whitespace, thousands separators, or Markdown marks."""
    return re.sub(r"[\s,`*]", "", text).lower()


def _heading(line: str) -> tuple[int, str]:
    """A line's heading level (1-6 for Markdown ``#``, 7 for any other line) and its squashed text."""
    match = _HEADING.match(line.strip())
    if match:
        return len(match.group(1)), squash(match.group(2))
    return 7, squash(line.strip().rstrip(":"))


def section(text: str, where: str) -> str | None:
    """The part of ``text`` under the heading path ``where`` ("Prefill / Memory"): each step is a
    heading line (Markdown, or a line standing alone such as a bold label) inside the previous one's
    section, which runs to the next Markdown heading of the same or a higher level."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    for part in where.split(" / "):
        want = squash(part)
        for i in range(start, end):
            level, title = _heading(lines[i])
            if title == want:
                stop = next((j for j in range(i + 1, end)
                             if _HEADING.match(lines[j].strip()) and _heading(lines[j])[0] <= level), end)
                start, end = i, stop
                break
        else:
            return None
    return "\n".join(lines[start:end])


def sections_of(name: str, where: str) -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in FILES[name]]
    return [part for part in (section(t, where) for t in texts) if part is not None]


@pytest.fixture(scope="module")
def built():
    return {name: MODULES[name].build() for name in SCRIPTS}


def test_section_finder():
    doc = "intro\n# A\nx 1\n## B\ny 2\n**Bold label**\nz 3\n## C\nw 4\n# D\nv 5\n"
    assert section(doc, "A / B") == "## B\ny 2\n**Bold label**\nz 3"
    assert section(doc, "A / B / Bold label") == "**Bold label**\nz 3"
    assert section(doc, "A").endswith("w 4") and section(doc, "D") == "# D\nv 5"
    assert section(doc, "B / A") is None and section(doc, "E") is None
    assert squash("`d_model` × 2 (3,350 **GB**)") == "d_model×2(3350gb)"


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_claim_names_a_section_of_its_document(built, name):
    missing = sorted({c.where for c in built[name].claims if not sections_of(name, c.where)})
    assert missing == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_printed_figure_stands_in_its_section(built, name):
    """A number as printed, a formula as typeset (``as_printed``) or a verdict in words: found in the
    section the claim names, in one of the document's files."""
    absent = []
    for c in built[name].claims:
        if c.label in NO_FIGURE.get(name, ()):
            assert c.is_formula or c.is_word, c.label
            continue
        figure = c.as_printed or (c.printed if not c.is_formula else "")
        assert figure, f"{c.label}: a formula claim needs as_printed (the formula as the document sets it)"
        if not any(squash(figure) in squash(part) for part in sections_of(name, c.where)):
            absent.append((c.label, c.where, figure))
    assert absent == []


def test_no_figure_claims_exist(built):
    for name, labels in NO_FIGURE.items():
        assert labels <= {c.label for c in built[name].claims}


def test_001_is_000s_text_rendering():
    """What the 000 derivation's remark says of 001: no front matter, no HTML comment, no GeoGebra
    links, the decode intensity's 2 Z e^{9} written as 2 Z 10^9, and the TP paragraph finished."""
    a, b = (path.read_text(encoding="utf-8") for path in FILES["seed_000"])
    assert a.startswith("---\ntitle:") and not b.startswith("---")
    assert "25.17 GB" in a and "25.17 GB" not in b
    assert "geogebra" in a and "geogebra" not in b
    assert "2 Z 10^9 + 8 N B S_i H" in b and "2 Z \\text{e}^{9} + 8 N B S_i H" in a
    tp_a, tp_b = (section(t, "5. Discussion: Tensor Parallelism") for t in (a, b))
    assert "divided by the number of GPUs" in tp_b and "divided" not in tp_a


def test_seed_files_are_where_the_derivations_say(built):
    for name in SCRIPTS:
        for file in MODULES[name].DOCUMENTS:
            assert file in built[name].source and isinstance(seed_file(file), Path)
