"""The hardware catalogue: every row sourced and positive, names resolve, and seed 002's table
is reproduced from the rows."""

import os
from pathlib import Path

import pytest
import sympy

import symroof
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
    # 003 prints the datasheet's "40GB"/"80GB"; the parts have 40 and 80 GiB (nvidia-smi reports
    # 40,960 and 81,920 MiB: github.com/modal-labs/modal-client/pull/2797)
    assert hw.capacity == gb * 2**30
    assert hw.bandwidth == gbps * 10**9
    assert hw.interconnect_bytes_per_s == link * 10**9  # 003: 300 GB/s each way, not 600


def test_000_a100_balance_and_datasheet_variants():
    # 000: 312e12 / 2039e9 ~= 153
    assert hardware.get("A100-80GB").balance == sympy.Rational(312_000, 2039)
    # datasheet: the 80GB PCIe card has 1,935 GB/s; 002's "A100 PCIe" (1,555) is the 40GB card
    assert hardware.get("A100 80GB PCIe").bandwidth == 1935 * 10**9
    assert hardware.get("A100 PCIe").capacity == 40 * 2**30            # 40 GB HBM2 = 40 GiB


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


# ---- capacities in the bytes the device has ------------------------------------------------------
GIB = 2**30


@pytest.mark.parametrize("name, gib", [
    # datasheet "GB" of HBM/GDDR, which is GiB: nvidia-smi reports an A100 80GB as 81,920 MiB and an
    # A100 40GB as 40,960 MiB (github.com/modal-labs/modal-client/pull/2797)
    ("A100-80GB", 80), ("A100-40GB", 40), ("H100-SXM", 80), ("H200", 141), ("B200", 180),
    ("MI300X", 192), ("L40S", 48), ("L4", 24),
    # AMD MI325X product page: 256 GB HBM3E; Intel Gaudi 3 (Hot Chips 2024): 128 GB HBM2e;
    # NVIDIA HGX B300: 2.3 TB over 8 GPUs = 288 GB each; Google Cloud TPU docs: v5e 16 GB, v5p 95 GB, v6e 32 GB
    ("MI325X", 256), ("Gaudi3", 128), ("B300", 288), ("TPU-v5e", 16), ("TPU-v5p", 95), ("TPU-v6e", 32),
])
def test_capacities_are_binary_bytes(name, gib):
    hw = hardware.get(name)
    assert hw.capacity == gib * GIB
    assert f"{gib} GB, stored as {gib} GiB" in hw.source or f"{gib} GiB" in hw.source
    # a runtime keeps a reserve: 9/10 is usable by default (vLLM's gpu_memory_utilization=0.9)
    assert hw.usable_fraction == sympy.Rational(9, 10)
    assert hw.usable_bytes == gib * GIB * 9 / sympy.Integer(10)


def test_every_capacity_is_a_whole_number_of_gib_and_cited():
    for name, hw in hardware.catalogue().items():
        assert (hw.capacity / GIB).is_integer, name
        assert "capacity" in hw.source and "GiB" in hw.source, name


# ---- the new rows, against their datasheets --------------------------------------------------------
@pytest.mark.parametrize("name, dtype, peak, bandwidth, link", [
    # Google Cloud TPU v5e: 197 TFLOPs bf16, 393 TOPs int8, 819 GBps, ICI 400 GBps bidirectional per chip
    ("TPU v5e", "bf16", 197e12, 819e9, 200e9), ("v5e", "int8", 393e12, 819e9, 200e9),
    # Google Cloud TPU v5p: 459 TFLOPs bf16, 2,765 GBps, ICI 4,800 Gbps = 600 GB/s
    ("TPU v5p", "bf16", 459e12, 2765e9, 300e9),
    # Google Cloud TPU v6e (Trillium): 918 TFLOPs bf16, 1,836 TOPs int8, 1,638 GBps, ICI 800 GBps bidirectional
    ("Trillium", "bf16", 918e12, 1638e9, 400e9), ("TPU v6e", "int8", 1836e12, 1638e9, 400e9),
    # AMD MI325X: 1,307.4 TF FP16/BF16 dense (2,614.9 sparse), FP8 2,614.9 dense, 6 TB/s
    ("MI325X", "bf16", 1307.4e12, 6000e9, None), ("AMD Instinct MI325X", "fp8", 2614.9e12, 6000e9, None),
    # Intel Gaudi 3 (Hot Chips 2024): BF16 and FP8 matrix 1,835 TFLOPs, 3.67 TB/s
    ("Gaudi 3", "bf16", 1835e12, 3670e9, None), ("Intel Gaudi 3", "fp8", 1835e12, 3670e9, None),
    # NVIDIA HGX B300 (8 GPUs): BF16 36* PF, FP8 72* PF with sparsity; 8 TB/s; NVLink 1.8 TB/s per GPU
    ("B300", "bf16", 36e15 / 8 / 2, 8000e9, 900e9), ("HGX B300", "fp8", 72e15 / 8 / 2, 8000e9, 900e9),
    # NVIDIA H200: 1,979* TF BF16 with sparsity, 4.8 TB/s, NVLink 900 GB/s
    ("H200", "bf16", 1979e12 / 2 - 0.5e12, 4800e9, 450e9),
])
def test_new_rows_match_their_datasheets(name, dtype, peak, bandwidth, link):
    hw = hardware.get(name)
    assert hw.peak_flops_per_s[dtype] == sympy.Rational(repr(peak))
    assert hw.bandwidth == sympy.Rational(repr(bandwidth))
    assert hw.interconnect_bytes_per_s == (None if link is None else sympy.Rational(repr(link)))
    assert "dense" in hw.source or "TPU" in hw.name


def test_tpu_v5e_against_scaling_book():
    # scaling-book Part 2 table: v5e 1.97e14 bf16, 3.94e14 int8, 8.1e11 B/s, 16GB (per chip)
    v5e = hardware.get("TPU v5e")
    assert v5e.peak_flops == sympy.Rational(197, 1) * 10**12
    assert abs(v5e.bandwidth / sympy.Rational(81, 100) / 10**12 - 1) < sympy.Rational(12, 1000)
    # scaling-book: B* = 1.97e14 / 8.2e11 ≈ 240; with the datasheet's 819 GB/s, 197e12 / 819e9 = 240.5
    assert v5e.balance == sympy.Rational(197_000, 819)
    assert round(float(v5e.replace(bandwidth_bytes_per_s=8.2e11).balance)) == 240


def test_scaling_book_llama2_13b_step_time_on_8_tpu_v5e():
    """scaling-book Part 7, 'Modeling throughput and latency for LLaMA 2-13B' on 8 × TPU v5e: the
    theoretical step time is total memory over HBM bandwidth, (26e9 + B·6.7e9) / 6.56e12 s
    (26 GB of bf16 weights, 6.7 GB of KV per 8192-token sequence; '6.5TiB/s ... (0.82TiB/s each)',
    which the table's numbers show is 8 × 8.2e11 = 6.56e12 B/s). The book's table, in ms:"""
    book = {1: 4.98, 8: 12.13, 16: 20.30, 32: 36.65, 64: 69.33, 240: 249.09}
    # the book rounds the v5e's 819 GB/s to 8.2e11; with that, symroof reproduces the formula exactly
    v5e_book = hardware.get("TPU v5e").replace(bandwidth_bytes_per_s=8.2e11)
    B = sympy.Symbol("B", positive=True)
    cost = symroof.Cost(flops={"matmuls": 2 * 13 * 10**9 * B},
                        bytes={"weights": 26 * 10**9, "kv": sympy.Rational(67, 10) * 10**9 * B})
    t = symroof.latency(cost, v5e_book, tp=8)
    assert sympy.simplify(t.memory_s - (26 * 10**9 + B * sympy.Rational(67, 10) * 10**9)
                          / sympy.Rational(656, 100) / 10**12) == 0
    for b, ms in book.items():
        assert round(float(t.total_s.subs(B, b)) * 1000, 2) == ms          # memory-bound at every B
    # with the datasheet's 819 GB/s the steps are 0.12% longer (8.2e11 / 8.19e11)
    sheet = symroof.latency(cost, "TPU v5e", tp=8)
    assert sympy.simplify(sheet.memory_s / t.memory_s) == sympy.Rational(820, 819)


# ---- efficiency and the usable fraction ------------------------------------------------------------
def test_efficiency_scales_the_roofs_and_is_shown():
    h100 = hardware.get("H100")
    assert h100.efficient and "achieved" not in str(h100)
    slow = h100.replace(flops_efficiency=0.7, bandwidth_efficiency=sympy.Rational(4, 5))
    # by hand: 0.7 · 989e12 = 692.3e12 FLOP/s, 0.8 · 3.35e12 = 2.68e12 B/s, balance 692.3/2.68 = 258.3
    assert slow.peak_flops == sympy.Rational(6923, 10) * 10**12 and slow.bandwidth == 268 * 10**10
    assert slow.datasheet_peak_flops == 989 * 10**12 and slow.datasheet_bandwidth == 3350 * 10**9
    assert slow.balance == sympy.Rational(69230, 268)
    text = str(slow)
    assert "70% of peak FLOP/s" in text and "80% of bandwidth" in text and "balance 258" in text
    assert h100.with_efficiency(bandwidth=0.5).bandwidth == 1675 * 10**9
    assert h100.with_efficiency(flops=0.5).flops_efficiency == sympy.Rational(1, 2)
    # the analysis uses the achieved rates: memory time doubles at half the bandwidth
    cost = symroof.Cost(flops={"x": 10**12}, bytes={"weights": 10**12})
    assert symroof.latency(cost, h100.with_efficiency(bandwidth=0.5)).memory_s == 2 * symroof.latency(
        cost, h100).memory_s
    # per row in a file, too (see test_load_a_hardware_file)


@pytest.mark.parametrize("field, value, message", [
    ("flops_efficiency", 0, "must be a positive number"), ("flops_efficiency", 1.5, r"in \(0, 1\]"),
    ("bandwidth_efficiency", float("nan"), "finite"), ("usable_fraction", True, "not a bool"),
    ("usable_fraction", "0.9", "not a string"), ("usable_fraction", -0.1, "positive"),
    ("bandwidth_bytes_per_s", -1, "positive"), ("bandwidth_bytes_per_s", 0, "positive"),
    ("bandwidth_bytes_per_s", float("nan"), "finite"), ("bandwidth_bytes_per_s", "1e12", "not str"),
    ("capacity_bytes", True, "not a bool"), ("capacity_bytes", "80GB", "not str"),
    ("interconnect_bytes_per_s", float("inf"), "finite"), ("peak_flops_per_s", {"bf16": "1e15"}, "not str"),
    ("peak_flops_per_s", {"bf16": False}, "not a bool"), ("peak_flops_per_s", {}, "must map dtype"),
    ("name", "", "must not be empty"), ("name", "x\x1b[31m", "control characters"), ("name", 3, "must be a string"),
    ("dtype", 16, "must be a string"), ("aliases", "H100", "must be a list"),
    ("wattage", 700, "unknown Hardware field"),
])
def test_hardware_refuses_bad_values_with_one_line(field, value, message):
    with pytest.raises(ValueError, match=message) as err:
        hardware.get("H100").replace(**{field: value})
    assert "\n" not in str(err.value)


def test_resolve_says_when_an_alias_was_used():
    assert hardware.resolve("H100") == (hardware.get("H100-SXM"), True)
    assert hardware.resolve("h100-sxm") == (hardware.get("H100-SXM"), False)
    assert hardware.resolve("Trillium")[0].name == "TPU-v6e" and hardware.resolve("Trillium")[1]
    hw = hardware.get("B200")
    assert hardware.resolve(hw) == (hw, False)
    with pytest.raises(UnknownName, match="empty"):
        hardware.resolve("  ")


# ---- custom hardware --------------------------------------------------------------------------------
def test_custom_from_keywords():
    # scaling-book's v5e: 1.97e14 FLOP/s, 8.2e11 B/s, 16 GiB; balance 1.97e14 / 8.2e11 = 9850/41 ≈ 240.2
    v5e = hardware.custom("v5e (book)", 1.97e14, 8.2e11, 16 * GIB, source="scaling-book Part 7")
    assert v5e.peak_flops_per_s == {"bf16": 197 * 10**12} and v5e.balance == sympy.Rational(9850, 41)
    assert v5e.capacity == 17_179_869_184 and v5e.usable_fraction == sympy.Rational(9, 10)
    fp8 = hardware.custom("x", {"fp8": 2e15, "bf16": 1e15}, 4e12, capacity_bytes=10**11, dtype="fp8",
                          usable_fraction=0.95, flops_efficiency=0.6)
    assert fp8.peak_flops == 12 * 10**14 and fp8.usable_bytes == 95 * 10**9
    with pytest.raises(ValueError, match="not both"):
        hardware.custom("x", 1e15, 1e12, memory_bytes=1, capacity_bytes=1)
    with pytest.raises(ValueError, match="unknown Hardware field 'bandwith"):
        hardware.custom("x", 1e15, 1e12, bandwith_bytes_per_s=1)
    with pytest.raises(ValueError, match="x: bandwidth_bytes_per_s=0 must be a positive number"):
        hardware.custom("x", 1e15, 0)


GOOD_FILE = '''
["My-Accelerator"]
aliases = ["mine"]
peak_flops_per_s = { bf16 = 500e12, fp8 = 1000e12 }
bandwidth_bytes_per_s = 2e12
capacity_bytes = 68_719_476_736  # 64 GiB
usable_fraction = 0.85
bandwidth_efficiency = 0.8
source = "my datasheet"

["Tiny"]
peak_flops_per_s = 1e12
bandwidth_bytes_per_s = 1e11
'''


def test_load_a_hardware_file(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    rows = hardware.load(path)
    mine, tiny = rows["My-Accelerator"], rows["Tiny"]
    assert mine.peak_flops == 500 * 10**12 and mine.bandwidth == 16 * 10**11            # 2e12 · 0.8
    assert mine.usable_bytes == 64 * GIB * sympy.Rational(85, 100) and mine.aliases == ("mine",)
    assert "80% of bandwidth" in str(mine) and "85% usable" in str(mine)
    assert tiny.peak_flops_per_s == {"bf16": 10**12} and tiny.capacity is None
    # the catalogue file loads the same way
    assert hardware.load(Path(hardware.__file__).parent / "data" / "hardware.toml") == hardware.catalogue()


@pytest.mark.parametrize("text, message", [
    ('["X"]\npeak_flops_per_s = { bf16 = -1e12 }\nbandwidth_bytes_per_s = 1e12\n',
     r"row 'X': X: peak_flops_per_s\[bf16\]=-1000000000000.0 must be a positive number"),
    ('["X"]\npeak_flops_per_s = { bf16 = 1e12 }\nbandwidth_bytes_per_s = "fast"\n', "bandwidth_bytes_per_s='fast'"),
    ('["X"]\npeak_flops_per_s = { bf16 = 1e12 }\nbandwidth_bytes_per_s = nan\n', "must be a finite"),
    ('["X"]\npeak_flops_per_s = { bf16 = 1e12 }\nbandwidth_bytes_per_s = 1e12\ncapacity_bytes = true\n',
     "capacity_bytes=True must be a positive number, not a bool"),
    ('["X"]\npeak_flops_per_s = { bf16 = 1e12 }\nbandwith_bytes_per_s = 1e12\n',
     "unknown field 'bandwith_bytes_per_s'; did you mean bandwidth_bytes_per_s"),
    ('["X"]\npeak_flops_per_s = { bf16 = 1e12 }\n', "missing field 'bandwidth_bytes_per_s'"),
    ('X = 3\n', "'X' must be a table"),
    ('', "no hardware rows"),
    ('["X"\n', "not valid TOML"),
    ('a = ' + '[' * 100_000 + ']' * 100_000 + '\n', "nested too deeply|not valid TOML|must be a table"),
])
def test_load_refuses_bad_files_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        hardware.load(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_load_reads_regular_files_only_and_limits_size(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a regular file"):
        hardware.load(tmp_path)
    with pytest.raises(ValueError, match="cannot read"):
        hardware.load(tmp_path / "missing.toml")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        hardware.load(fifo)                      # never opened: a FIFO would block the read
    with pytest.raises(ValueError, match="is a character device, not a regular file"):
        hardware.load("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * hardware.MAX_FILE_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"at most {hardware.MAX_FILE_BYTES} are read"):
        hardware.load(big)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="UTF-8"):
        hardware.load(binary)
