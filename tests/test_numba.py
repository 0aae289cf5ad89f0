"""The numba backend (symroof._numba): one fused loop per program, checked against the exact
value (SymPy at the same point) and against the numpy backend, which evaluates the same program
one ufunc at a time; its argument checks and floating-point errors; its disk cache."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy

import symroof
from symroof import _numba, evaluate
from symroof.symbols import B, S, S_c, S_i

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="numba is not installed (the fast extra)")
README_THRESHOLD = 1 << 18  # the README: "arrays of 2^18 points or more run instead in one loop compiled by numba"
THRESHOLD = _numba.MIN_POINTS  # before the fixture below lowers it

ROOT = Path(__file__).resolve().parent.parent
LLAMA = symroof.step(symroof.models.get("llama-3-8b"), "exact")


@pytest.fixture(autouse=True)
def _every_size(monkeypatch):
    monkeypatch.setattr(_numba, "MIN_POINTS", 1)


def _evaluators(ev: evaluate.Evaluator) -> list[evaluate.Evaluator]:
    """An evaluator and its call-time specialisations."""
    return [ev] + [plan.evaluator for key, plan in ev._kernels.items()
                   if isinstance(key, tuple) and key[0] == "special" and plan is not None]


def _kernels(ev: evaluate.Evaluator) -> list[object]:
    """The numba kernels an evaluator (or its call-time specialisations) has compiled."""
    found = [k for k in ev._kernels if isinstance(k, tuple) and k[0] == "numba"]
    for key, plan in ev._kernels.items():
        if isinstance(key, tuple) and key[0] == "special" and plan is not None:
            found += _kernels(plan.evaluator)
    return found


def test_llama_decode_intensity_by_hand():
    # Llama-3-8B decode at S_c = 4096, S_i = 1 is 2094400·B/(65649·B + 1832257) (compile()'s doctest)
    ev = symroof.compile(LLAMA, S_c=4096, S_i=1, backend="numba")
    batch = np.array([1, 64, 1000, 10**6])
    got = ev(B=batch)
    for g, b in zip(got, batch.tolist(), strict=True):
        exact = Fraction(2094400 * b, 65649 * b + 1832257)
        assert abs(Fraction(float(g)) - exact) <= 1e-15 * exact
    assert _kernels(ev), "the fused loop did not run"


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint16", "float64", "float32"])
def test_same_numbers_as_the_numpy_backend(dtype):
    # the same program in the same order, without fast-math: the same float64 results, bit for bit
    batch = np.arange(1, 5001).astype(dtype)
    ev = symroof.compile(LLAMA, S_i=1, backend="numba")
    fused = ev(B=batch, S_c=2048)
    blocked = symroof.compile(LLAMA, S_i=1, backend="numpy")(B=batch, S_c=2048)
    np.testing.assert_array_equal(fused, blocked)
    # the loop was compiled for this dtype (numba keeps one machine-code version per argument type)
    typed = [str(sig) for sub in _evaluators(ev) for key, k in sub._kernels.items()
             if isinstance(key, tuple) and key[0] == "numba" for sig in k.signatures]
    assert any(sig.startswith(f"(Array({dtype}, 1,") for sig in typed), typed


def test_the_threshold_is_the_documented_one(monkeypatch):
    monkeypatch.setattr(_numba, "MIN_POINTS", THRESHOLD)
    assert _numba.available()
    ev = symroof.compile(17 * B + 2, backend="numba")  # an expression no other test compiles
    small = np.arange(1, README_THRESHOLD)            # 2^18 - 1 points: numpy
    np.testing.assert_array_equal(ev(B=small), 17.0 * small + 2)
    assert not _kernels(ev)
    large = np.arange(1, README_THRESHOLD + 1)        # 2^18: the fused loop
    np.testing.assert_array_equal(ev(B=large), 17.0 * large + 2)
    assert _kernels(ev)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_loop_runs_on_the_threads_asked_for(threads):
    numba = _numba._numba()
    ev = symroof.compile(19 * B + 2, backend="numba", threads=threads)
    batch = np.arange(1, 2 * evaluate._MIN_PER_THREAD + 1)
    np.testing.assert_array_equal(ev(B=batch), 19.0 * batch + 2)
    assert numba.get_num_threads() == min(threads, numba.config.NUMBA_NUM_THREADS)
    # fewer points than two threads' worth: one thread
    ev(B=batch[: evaluate._MIN_PER_THREAD])
    assert numba.get_num_threads() == 1


def test_a_real_valued_symbol_takes_fractions_and_rejects_nan():
    x = sympy.Symbol("x", positive=True)  # not an integer: 2.5 is allowed
    ev = symroof.compile(3 * x + B, backend="numba")
    np.testing.assert_array_equal(ev(x=np.array([2.5, 0.25]), B=1), [8.5, 1.75])
    with pytest.raises(ValueError, match=r"x\[1\]=-0.5 must be a positive number"):
        ev(x=np.array([2.5, -0.5]), B=1)
    with pytest.raises(ValueError, match=r"x\[0\]=nan must be a positive number"):
        ev(x=np.array([np.nan, 1.0]), B=1)


def test_usable_needs_numba_and_a_thread_safe_layer(monkeypatch):
    check = _numba.usable.__wrapped__  # not the cached answer
    assert check()
    monkeypatch.setattr(_numba, "available", lambda: False)
    assert not check()
    monkeypatch.undo()
    real = importlib.import_module

    def no_layers(name, *args):
        if name.startswith("numba.np.ufunc.") and name.endswith("pool"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_layers)
    assert not check()


def test_the_cache_directory(tmp_path, monkeypatch):
    version = _numba._numba().__version__
    monkeypatch.setenv("SYMROOF_CACHE_DIR", str(tmp_path / "a" / "b"))  # created, parents too
    assert _numba._cache_dir() == tmp_path / "a" / "b" / f"kernels-numba-{version}"
    assert (tmp_path / "a" / "b" / f"kernels-numba-{version}").is_dir()
    monkeypatch.delenv("SYMROOF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _numba._cache_dir() == tmp_path / "xdg" / "symroof" / f"kernels-numba-{version}"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _numba._cache_dir() == tmp_path / "home" / ".cache" / "symroof" / f"kernels-numba-{version}"


def test_a_grid_of_broadcast_inputs():
    # B·(S_c + 3)/(B + S_c + 1) over a 3 x 4 grid, each point by hand with Fractions
    ev = symroof.compile(B * (S_c + 3) / (B + S_c + 1), backend="numba")
    b = np.array([[1], [2], [7]])
    c = np.array([[0, 1, 5, 100]])
    got = ev(B=b, S_c=c)
    assert got.shape == (3, 4)
    assert any(key[5] == 2 for key in _kernels(ev)), "the 2-D loop did not run"
    for i, bi in enumerate((1, 2, 7)):
        for j, cj in enumerate((0, 1, 5, 100)):
            assert Fraction(float(got[i, j])) == pytest.approx(Fraction(bi * (cj + 3), bi + cj + 1), rel=1e-15)
    # a transposed (non-contiguous) full-size input is read through its strides; a C-ordered one
    # runs as one flat loop; a full input beside a column broadcast along the rows
    full = np.arange(1, 13).reshape(4, 3).T
    np.testing.assert_array_equal(symroof.compile(3 * B + 1, backend="numba")(B=full), 3.0 * full + 1)
    ordered = np.arange(1, 13).reshape(3, 4)
    flat = symroof.compile(5 * B + 3, backend="numba")  # an expression no other test compiles
    np.testing.assert_array_equal(flat(B=ordered), 5.0 * ordered + 3)
    assert [key[5] for key in _kernels(flat)] == [1], "a C-ordered grid runs as one flat loop"
    mixed = symroof.compile(B * S + S, backend="numba")(B=full, S=np.array([[2], [5], [7]]))
    np.testing.assert_array_equal(mixed, full * np.array([[2], [5], [7]]) + np.array([[2], [5], [7]]))
    rows = symroof.compile(B * S + S, backend="numba")(B=full, S=np.array([[2, 5, 7, 11]]))
    np.testing.assert_array_equal(rows, full * np.array([[2, 5, 7, 11]]) + np.array([[2, 5, 7, 11]]))


def test_several_outputs_with_an_input_and_a_constant_among_them():
    ev = symroof.compile((B * S + 1, B, sympy.Integer(7)), backend="numba")
    b = np.arange(1, 6)
    first, second, third = ev(B=b, S=3)
    np.testing.assert_array_equal(first, 3.0 * b + 1)
    np.testing.assert_array_equal(second, b.astype(float))
    np.testing.assert_array_equal(third, np.full(5, 7.0))


def test_out_overlapping_an_input():
    # 10·B/(B + 8) (S_c = 7), written over the float input itself
    ev = symroof.compile(B * (S_c + 3) / (B + S_c + 1), backend="numba", S_c=7)
    x = np.arange(1.0, 9.0)
    want = [10 * b / (b + 8) for b in range(1, 9)]
    assert ev(B=x, out=x) is x
    np.testing.assert_allclose(x, want, rtol=1e-15)
    # out= that overlaps the input shifted by one element: the input is copied first
    y = np.arange(1.0, 10.0)
    ev(B=y[1:], out=y[:-1])
    np.testing.assert_allclose(y[:-1], [10 * b / (b + 8) for b in range(2, 10)], rtol=1e-15)


@pytest.mark.parametrize(("values", "message"), [
    (np.array([3, 1, 0, 2]), r"B\[2\]=0 must be a positive integer"),
    (np.array([3, -1, 0]), r"B\[1\]=-1 must be a positive integer"),
    (np.array([1.0, 2.0, 2.5]), r"B\[2\]=2.5 must be a positive integer"),
    (np.array([1.0, np.nan]), r"B\[1\]=nan must be a positive integer"),
    (np.array([1.0, 2.0, np.inf]), r"B\[2\]=inf must be a positive integer"),
    (np.array([4.0, 0.0]), r"B\[1\]=0.0 must be a positive integer"),
])
def test_a_bad_count_is_named(values, message):
    ev = symroof.compile(B * S_c + 1, backend="numba")
    with pytest.raises(ValueError, match=message):
        ev(B=values, S_c=np.ones(len(values)))


def test_a_grid_with_parts_computed_once_per_row():
    # seed 000's decode intensity at H = 4096, N = 32, Z = 8 (fp16) over B x S_c, with call-time scalars:
    # (S_c + 24576)/(S_c/2 + 2 + 1953125/(64·B)); the last term depends on B alone, computed once per row
    cost = symroof.decode(symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2), "000")
    ev = symroof.compile(cost)
    b, c = np.array([[1], [7], [64]]), np.array([[0, 5, 1000, 4096]])
    got = ev(B=b, S_c=c, H=4096, N=32, Z=8)
    for i, bi in enumerate((1, 7, 64)):
        for j, cj in enumerate((0, 5, 1000, 4096)):
            want = Fraction(cj + 24576) / (Fraction(cj, 2) + 2 + Fraction(1953125, 64 * bi))
            assert abs(Fraction(float(got[i, j])) - want) <= 1e-14 * want
    assert _kernels(ev)


def test_a_non_finite_value_with_checks_off_gives_numpys_result():
    # the loop sees inf, numpy reruns the call (a scalar among the arrays) and returns what it computes
    ev = symroof.compile(B * S + 1, backend="numba", check=False)
    np.testing.assert_array_equal(ev(B=np.array([1.0, np.inf, 2.0]), S=3), [4.0, np.inf, 7.0])
    np.testing.assert_array_equal(ev(B=np.array([1.0, 2.0]), S=np.array([np.inf, 1.0])), [np.inf, 3.0])


def test_a_bad_value_in_a_broadcast_input_is_named():
    # the column and the row are smaller than the grid: checked whole before the loop
    ev = symroof.compile(B * S_c + 1, backend="numba")
    with pytest.raises(ValueError, match=r"B\[1, 0\]=0 must be a positive integer"):
        ev(B=np.array([[2], [0], [3]]), S_c=np.array([[1, 2, 3, 4]]))
    with pytest.raises(ValueError, match=r"S_c\[0, 2\]=-3 must be a non-negative integer"):
        ev(B=np.array([[2], [1], [3]]), S_c=np.array([[1, 2, -3, 4]]))


def test_an_empty_cache_is_allowed_a_negative_one_is_not():
    ev = symroof.compile(B * S_c + 1, backend="numba")
    np.testing.assert_array_equal(ev(B=np.array([2, 3]), S_c=np.array([0, 4])), [1.0, 13.0])
    np.testing.assert_array_equal(ev(B=np.array([2.0, 3.0]), S_c=np.array([0.0, 4.0])), [1.0, 13.0])
    with pytest.raises(ValueError, match=r"S_c\[1\]=-1 must be a non-negative integer"):
        ev(B=np.array([2, 3]), S_c=np.array([0, -1]))


def test_check_false_skips_the_argument_checks():
    ev = symroof.compile(2 * B, backend="numba", check=False)
    np.testing.assert_array_equal(ev(B=np.array([0.5, -1.0])), [1.0, -2.0])


def test_a_division_by_zero_or_an_overflow_raises_as_with_numpy():
    # numba does not raise: the loop counts non-finite values and numpy reruns the call
    with pytest.raises(ValueError, match=r"B/S_c is not a finite float64 .*divide by zero"):
        symroof.compile(B / S_c, backend="numba")(B=np.ones(6, dtype=int), S_c=np.array([1, 2, 3, 0, 5, 6]))
    with pytest.raises(ValueError, match=r"not a finite float64.*overflow"):
        symroof.compile(B**2, backend="numba")(B=np.array([1.0, 1e200]))
    # an intermediate that overflows also counts, even if the result would be finite: 1/(B·B)
    with pytest.raises(ValueError, match="not a finite float64"):
        symroof.compile(1 / (B * B * B), backend="numba")(B=np.array([2.0, 1e120]))


def test_below_the_threshold_numpy_runs(monkeypatch):
    monkeypatch.setattr(_numba, "MIN_POINTS", 100)
    ev = symroof.compile(3 * B + S, backend="numba")
    np.testing.assert_array_equal(ev(B=np.arange(1, 100), S=1), 3.0 * np.arange(1, 100) + 1)
    assert not _kernels(ev)
    np.testing.assert_array_equal(ev(B=np.arange(1, 101), S=1), 3.0 * np.arange(1, 101) + 1)
    assert _kernels(ev)
    # three dimensions, a byte-swapped or a float16 input: numpy
    ev3 = symroof.compile(5 * B + 1, backend="numba")
    np.testing.assert_array_equal(ev3(B=np.ones((5, 5, 5), dtype=int)), np.full((5, 5, 5), 6.0))
    np.testing.assert_array_equal(ev3(B=np.arange(1, 201, dtype=">i8")), 5.0 * np.arange(1, 201) + 1)
    np.testing.assert_array_equal(ev3(B=np.arange(1, 201, dtype=np.float16)), 5.0 * np.arange(1, 201) + 1)
    assert not _kernels(ev3)


def test_without_a_thread_safe_layer_numpy_runs(monkeypatch):
    monkeypatch.setattr(_numba, "usable", lambda: False)
    ev = symroof.compile(13 * B + S, backend="numba")  # an expression no other test compiles (evaluators are cached)
    np.testing.assert_array_equal(ev(B=np.arange(1, 9), S=2), 13.0 * np.arange(1, 9) + 2)
    assert not _kernels(ev)


def test_the_layer_is_thread_safe():
    assert _numba.usable()  # this machine has OpenMP (libgomp) or TBB
    assert _numba._numba().config.THREADING_LAYER == "threadsafe"


def test_the_generated_loop():
    program = evaluate._build(B / (3 * B + S_i), (B, S_i), False)
    text = _numba.source(program.n_inputs, program.ops, evaluate._needed(program, frozenset({0, 1})),
                         program.roots, (0,), (1,), ((0, "positive", True, True),), 1, ("flat",), cache=False)
    assert "for i0 in numba.prange(out0.shape[0]):" in text
    assert "c0 += 0 if math.isfinite(v0) and v0 > 0.0 and v0 == math.floor(v0) else 1" in text
    assert text.count("out0[i0] =") == 1
    assert "fastmath" not in text  # the arithmetic keeps its order and rounding
    with pytest.raises(ValueError, match="1 or 2 dimensions, not 3"):
        _numba.source(program.n_inputs, program.ops, (), program.roots, (0,), (1,), (), 3, ("flat",), cache=False)
    for ndim, reads in ((1, ()), (1, ("flat", "flat")), (1, ("full",)), (2, ("flat",)), (2, ())):
        with pytest.raises(ValueError, match=r"reads=.*for each of the 1 arrays"):
            _numba.source(program.n_inputs, program.ops, (), program.roots, (0,), (1,), (), ndim, reads,
                          cache=False)


def test_kernels_are_cached_on_disk_for_the_next_process(tmp_path):
    script = (
        "import numpy as np, symroof\n"
        "from symroof import _numba\n"
        "from symroof.symbols import B, S\n"
        "_numba.MIN_POINTS = 1\n"
        "ev = symroof.compile(7 * B / (B + S), backend='numba', S=3)\n"
        "assert ev(B=np.arange(1, 5))[3] == 4.0\n"
        "(kernel,) = [v for k, v in ev._kernels.items() if isinstance(k, tuple) and k[0] == 'numba']\n"
        "print(sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))\n")
    env = {**os.environ, "SYMROOF_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["0", "1"]  # compiled, then written
    assert len(list(tmp_path.glob("kernels-numba-*/k_*.py"))) == 1
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert second.stdout.split() == ["1", "0"]  # loaded, not compiled


def test_an_unwritable_cache_compiles_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SYMROOF_CACHE_DIR", str(blocker))
    _numba._load.cache_clear()
    assert _numba._cache_dir() is None
    kernel = _numba.kernel(*_source_args())
    out = np.empty(3)
    assert kernel(np.array([1.0, 2.0, 4.0]), 2.0, out) == (0,)
    np.testing.assert_array_equal(out, [3.0, 4.0, 6.0])


def _source_args() -> tuple[object, ...]:
    program = evaluate._build(B + S, (B, S), False)  # B + S with S a scalar leaf
    return (program.n_inputs, program.ops, evaluate._needed(program, frozenset({0, 1})), program.roots,
            (0,), (1,), (), 1, ("flat",))


@pytest.mark.parametrize(("expr", "by_hand"), [
    (-B * S, lambda b, s: -b * s),
    (S - B, lambda b, s: s - b),
    (B**3 + S, lambda b, s: b * b * b + s),
    (B**5 / S, lambda b, s: Fraction(b**5, s)),
    (B**7 - S, lambda b, s: b**7 - s),
    (sympy.Max(B, S) - sympy.Min(B, 2 * S), lambda b, s: max(b, s) - min(b, 2 * s)),
    (sympy.sqrt(B) * S, lambda b, s: Fraction(s) * Fraction(np.sqrt(b))),
])
def test_every_operation_by_hand(expr, by_hand):
    b = np.array([1, 4, 9, 30, 121])
    got = symroof.compile(expr, backend="numba")(B=b, S=7)
    for g, bi in zip(got, b.tolist(), strict=True):
        want = Fraction(by_hand(bi, 7))
        assert abs(Fraction(float(g)) - want) <= 1e-15 * abs(want)


def test_a_cached_file_that_differs_is_written_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMROOF_CACHE_DIR", str(tmp_path))
    _numba._load.cache_clear()
    _numba.kernel(*_source_args())
    (path,) = tmp_path.glob("kernels-numba-*/k_*.py")
    good = path.read_text()
    assert "out0[i0] = t2\n" in good
    path.write_text(good.replace("out0[i0] = t2", "out0[i0] = t2 + 1.0"))  # not what symroof wrote
    _numba._load.cache_clear()
    kernel = _numba.kernel(*_source_args())
    out = np.empty(2)
    kernel(np.array([1.0, 5.0]), 2.0, out)
    np.testing.assert_array_equal(out, [3.0, 7.0])
    assert path.read_text() == good
