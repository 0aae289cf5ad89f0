"""``import symroof`` stays light (issue 19: within 1.2x of ``import sympy``): it loads neither numpy
nor argparse, difflib or matplotlib; the modules behind them load on first attribute access."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_numpy_argparse_or_matplotlib():
    code = ("import sys, symroof; "
            "print(sorted(m for m in ('numpy', 'argparse', 'difflib', 'matplotlib', 'symroof.evaluate', "
            "'symroof.output.derivation', 'symroof.output.cli') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_lazy_attributes_are_the_modules():
    import symroof.evaluate
    import symroof.output.derivation
    import symroof.output.latex

    assert symroof.compile is symroof.evaluate.compile
    assert symroof.Evaluator is symroof.evaluate.Evaluator
    assert symroof.MultiEvaluator is symroof.evaluate.MultiEvaluator
    assert symroof.derivation is symroof.output.derivation
    assert symroof.latex is symroof.output.latex
    assert "compile" not in symroof.__all__  # `from symroof import *` keeps the builtin compile
