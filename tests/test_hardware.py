"""The hardware catalogue: every row sourced and positive, names resolve, and seed 002's table
is reproduced from the rows."""

import pytest
import sympy

from symroof import hardware
from symroof.hardware import _norm
from symroof.model.presets import UnknownName

# Seed 002, "Hardware specification" table: GPU, compute (TFLOPs bf16/fp16), memory BW (GB/s),
# intensity (FLOPs/byte), as printed there (rows reordered).
SEED_002_TABLE = [
    ("H100 SXM", 989, 3350, 295),
    ("A100 SXM", 312, 2039, 153),
    ("L40S", 362, 864, 419),
    ("H100 PCIe", 756, 2000, 378),
    ("A10", 125, 600, 208),
    ("A100 PCIe", 312, 1555, 201),
    ("V100", 125, 900, 139),
]

# Seed 003, capacity table: A100 40GB SXM and A100 80GB SXM.
SEED_003_TABLE = [
    ("A100 40GB SXM", 312, 40, 1555, 300),
    ("A100-80GB", 312, 80, 2039, 300),
]


def test_every_row_has_a_source_and_positive_figures():
    rows = hardware.catalogue()
    assert len(rows) >= 15
    for name, hw in rows.items():
        assert len(hw.source) > 40, f"{name} needs a source naming its datasheet"
        assert hw.bandwidth > 0 and hw.peak_flops > 0
        assert all(v > 0 for v in hw.peak_flops_per_s.values())
        assert hw.capacity is not None and hw.capacity > 0, name
        if hw.interconnect_bytes_per_s is not None:
            assert 0 < hw.interconnect_bytes_per_s < hw.bandwidth
        # rates are exact: 312e12 in the TOML is the integer 312 * 10**12
        assert isinstance(hw.bandwidth, sympy.Rational)


def test_names_and_aliases_are_unique_after_normalisation():
    seen: dict[str, str] = {}
    for name, hw in hardware.catalogue().items():
        for key in {_norm(name), *map(_norm, hw.aliases)}:
            assert key not in seen, f"{key!r} names both {seen[key]} and {name}"
            seen[key] = name


@pytest.mark.parametrize("spelling, row", [
    ("A100-80GB", "A100-80GB"), ("a100 sxm", "A100-80GB"), ("A100 80GB SXM", "A100-80GB"),
    ("A100 40GB SXM", "A100-40GB"), ("A100 PCIe", "A100-PCIe-40GB"), ("a100-pcie-80gb", "A100-PCIe-80GB"),
    ("H100 SXM", "H100-SXM"), ("h100", "H100-SXM"), ("H100 PCIe", "H100-PCIe"), ("L40S", "L40S"),
    ("l40s", "L40S"), ("A10", "A10"), ("V100", "V100-SXM2"), ("H200", "H200"), ("B200", "B200"),
    ("MI300X", "MI300X"), ("amd instinct mi300x", "MI300X"), ("L4", "L4"), ("RTX 4090", "RTX-4090"),
    ("GH200", "GH200-96GB"),
])
def test_seed_spellings_resolve(spelling, row):
    assert hardware.get(spelling).name == row


def test_unknown_gpu_is_a_clear_error():
    with pytest.raises(UnknownName, match="unknown GPU 'A100-90GB'"):
        hardware.get("A100-90GB")


@pytest.mark.parametrize("name, tflops, gbps, balance", SEED_002_TABLE)
def test_seed_002_balance_column_is_reproduced(name, tflops, gbps, balance):
    hw = hardware.get(name)
    # 002 prints compute to the TFLOP and bandwidth to the GB/s (L40S: 362.05 -> 362)
    assert abs(hw.peak_flops / 10**12 - tflops) < sympy.Rational(1, 2)
    assert hw.bandwidth == gbps * 10**9
    # the table's intensity column, rounded to the nearest FLOP/byte; by hand, e.g. 989/3.35 = 295.2
    assert round(float(hw.balance)) == balance
    assert abs(float(sympy.Rational(tflops * 1000, gbps)) - balance) < 0.5


@pytest.mark.parametrize("name, tflops, gb, gbps, link", SEED_003_TABLE)
def test_seed_003_capacity_table(name, tflops, gb, gbps, link):
    hw = hardware.get(name)
    assert hw.peak_flops == tflops * 10**12
    assert hw.capacity == gb * 10**9
    assert hw.bandwidth == gbps * 10**9
    assert hw.interconnect_bytes_per_s == link * 10**9  # 003: 300 GB/s each way, not 600


def test_000_a100_balance_and_datasheet_variants():
    # 000: 312e12 / 2039e9 ~= 153
    assert hardware.get("A100-80GB").balance == sympy.Rational(312_000, 2039)
    # datasheet: the 80GB PCIe card has 1,935 GB/s; 002's "A100 PCIe" (1,555) is the 40GB card
    assert hardware.get("A100 80GB PCIe").bandwidth == 1935 * 10**9
    assert hardware.get("A100 PCIe").capacity == 40 * 10**9


def test_dense_not_sparse_peaks():
    # datasheets print sparse peaks; the catalogue keeps dense ones (half)
    assert hardware.get("H100 SXM").peak_flops_per_s["fp8"] == 1979 * 10**12  # 3,958* / 2
    assert hardware.get("B200").peak_flops == 2250 * 10**12                     # 4.5* PF / 2
    assert hardware.get("L4").peak_flops == 121 * 10**12                        # 242* / 2
    assert hardware.get("MI300X").peak_flops == sympy.Rational(13074, 10) * 10**12


def test_v100_has_no_bf16_and_defaults_to_fp16():
    v100 = hardware.get("V100")
    assert v100.dtype == "fp16" and "bf16" not in v100.peak_flops_per_s
    with pytest.raises(ValueError, match="dtype='bf16' has no peak"):
        v100.with_dtype("bf16")


def test_hardware_of_lives_here_and_analysis_reexports_it():
    import ast
    import inspect

    from symroof import analysis, parallel, serving, timing

    assert analysis.hardware_of is hardware.hardware_of           # the public name still works
    a100 = hardware.get("A100-80GB")
    assert hardware.hardware_of(a100) is a100 and hardware.hardware_of("a100 sxm") is a100
    assert hardware.hardware_of("A100-80GB", "int8").peak_flops == 624 * 10**12   # datasheet: 624 TOPS dense
    with pytest.raises(ValueError, match="dtype='fp4': A100-80GB has peaks for"):
        hardware.hardware_of("A100-80GB", "fp4")
    with pytest.raises(ValueError, match="hardware=3 must be a Hardware or a GPU name"):
        hardware.hardware_of(3)
    # no module dodges an import cycle with a function-level import of hardware_of any more
    for module in (timing, serving, parallel):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.FunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
                assert not any(a.name == "hardware_of" for n in inner for a in n.names), (module, node.name)
