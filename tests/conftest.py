"""Hypothesis runs derandomized under CI (CI=true), so a CI run is reproducible; locally it explores."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_terminal_summary(terminalreporter) -> None:
    """One line when the oracle tests skipped (no torch/transformers), so a dev install cannot miss it."""
    skipped = terminalreporter.stats.get("skipped", [])
    oracle = [r for r in skipped if isinstance(r.longrepr, tuple) and "(the oracle extra)" in str(r.longrepr[-1])]
    if oracle:
        terminalreporter.write_line(
            f"{len(oracle)} oracle tests skipped: torch/transformers not installed "
            "(pip install -c constraints.txt -e .[dev,oracle])", yellow=True, bold=True)
