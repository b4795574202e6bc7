"""Property-based tests of every matmul variant in `foundations.matmul` against `torch @`.

Hypothesis draws shapes from 1 to 40 in each dimension (fewer examples for the pure-Python loops; at most 24 rows and
columns for the CUDA kernels under the simulator), in float32 and float64, contiguous and transposed (non-contiguous)
inputs.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from foundations import matmul as mm

VARIANTS = ["loops", "elementwise", "broadcast", "einsum", "numba", "tiled", "cuda"]
# largest (m, k, n) and number of examples per variant: the pure-Python loops and the simulated GPU are slow (the
# simulator runs every GPU thread as a Python thread, so m and n, which set the number of 16x16 blocks, stay small)
LIMITS = {"loops": ((40, 40, 40), 15), "elementwise": ((40, 40, 40), 40), "cuda": ((24, 40, 24), 12)}

def close(out, a, b):
    ref = a.double() @ b.double()
    tol = 1e-5 if a.dtype == torch.float64 else 1e-4 * max(1.0, a.shape[1] ** 0.5)
    out = torch.as_tensor(out)
    assert out.shape == ref.shape and out.dtype == a.dtype
    assert torch.allclose(out.double(), ref, rtol=1e-4, atol=tol), f"max error {(out.double() - ref).abs().max()}"

@st.composite
def operands(draw, hi):
    m, k, n = (draw(st.integers(1, h)) for h in hi)
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    transposed = draw(st.sampled_from(["none", "a", "b", "both"]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    a = torch.randn(k, m, generator=g, dtype=dtype).T if transposed in ("a", "both") else torch.randn(m, k, generator=g, dtype=dtype)
    b = torch.randn(n, k, generator=g, dtype=dtype).T if transposed in ("b", "both") else torch.randn(k, n, generator=g, dtype=dtype)
    return a, b

def make_property_test(variant):
    hi, n_examples = LIMITS.get(variant, ((40, 40, 40), 80))
    @settings(max_examples=n_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(operands(hi))
    def test(ab):
        a, b = ab
        close(getattr(mm, f"matmul_{variant}")(a, b), a, b)
    return test

for _v in VARIANTS: globals()[f"test_{_v}_matches_torch"] = make_property_test(_v)

@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_in_numpy_out(variant):
    a, b = np.random.rand(7, 5).astype(np.float32), np.random.rand(5, 3).astype(np.float32)
    out = getattr(mm, f"matmul_{variant}")(a, b)
    expect_numpy = variant in ("numba", "tiled", "cuda")
    assert isinstance(out, np.ndarray if expect_numpy else torch.Tensor)
    np.testing.assert_allclose(np.asarray(out), a @ b, rtol=1e-5, atol=1e-5)

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("sa, sb, message", [
    ((3, 4), (5, 6), "cannot multiply shapes (3, 4) and (5, 6): the inner dimensions 4 and 5 differ"),
    ((3,), (3, 2), "expected 2-D inputs of shapes (m, k) and (k, n), got shapes (3,) and (3, 2)"),
    ((2, 3, 4), (4, 2), "got shapes (2, 3, 4) and (4, 2)"),
    ((2, 3), (3, 2, 1), "got shapes (2, 3) and (3, 2, 1)"),
])
def test_bad_shapes(variant, sa, sb, message):
    with pytest.raises(ValueError) as e: getattr(mm, f"matmul_{variant}")(torch.ones(sa), torch.ones(sb))
    assert message in str(e.value) and f"matmul_{variant}" in str(e.value)

@pytest.mark.parametrize("variant", VARIANTS)
def test_not_an_array(variant):
    with pytest.raises(TypeError, match="expected tensors or arrays"): getattr(mm, f"matmul_{variant}")([[1.0]], torch.ones(1, 1))

@pytest.mark.parametrize("variant", ["numba", "tiled", "cuda"])
def test_compiled_kernels_want_floats(variant):
    with pytest.raises(TypeError, match="float32 or float64"):
        getattr(mm, f"matmul_{variant}")(torch.ones(2, 2, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int64))

@pytest.mark.parametrize("variant", VARIANTS)
def test_mixed_dtypes_promote(variant):
    a, b = torch.randn(4, 3, dtype=torch.float32), torch.randn(3, 2, dtype=torch.float64)
    out = torch.as_tensor(getattr(mm, f"matmul_{variant}")(a, b))
    assert out.dtype == torch.float64
    assert torch.allclose(out, a.double() @ b, atol=1e-5)

@pytest.mark.parametrize("variant", ["tiled", "numba"])
def test_bigger_than_blocks(variant):
    "Sizes that are not multiples of any block size, bigger than one block in every dimension."
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(301, 517, generator=g), torch.randn(517, 263, generator=g)
    close(getattr(mm, f"matmul_{variant}")(a, b), a, b)
    close(getattr(mm, f"matmul_{variant}")(b.T, a.T), b.T, a.T)

def test_inputs_are_not_modified():
    a, b = torch.randn(33, 17), torch.randn(17, 9)
    a0, b0 = a.clone(), b.clone()
    for v in VARIANTS: getattr(mm, f"matmul_{v}")(a, b)
    assert torch.equal(a, a0) and torch.equal(b, b0)

@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_runs_under_the_simulator_here():
    "conftest.py switched the simulator on before numba was imported, so the CUDA tests above really ran kernels."
    import numba
    assert numba.config.ENABLE_CUDASIM

def test_cuda_without_gpu_or_simulator_says_how_to_fix():
    "In a fresh process with no GPU and no simulator, matmul_cuda explains what to do."
    if torch.cuda.is_available(): pytest.skip("this machine has a GPU")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = ("import torch; from foundations.matmul import matmul_cuda\n"
            "try: matmul_cuda(torch.ones(2, 2), torch.ones(2, 2))\n"
            "except RuntimeError as e: print(e)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300).stdout
    assert "no CUDA GPU is available" in out and "NUMBA_ENABLE_CUDASIM=1" in out

def _nvvm():
    "The CUDA toolkit's NVVM compiler, if this machine has one (it can compile kernels without a GPU)."
    for home in [os.environ.get("CUDA_HOME"), "/usr/local/cuda", "/usr/local/cuda-13.0"]:
        if home and any(os.path.exists(os.path.join(home, d, "libnvvm.so")) for d in ("nvvm/lib64", "lib", "lib64")):
            return home
    return None

@pytest.mark.skipif(_nvvm() is None, reason="no CUDA toolkit (NVVM) on this machine")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_kernels_compile_for_a_real_gpu(dtype):
    """The simulator runs kernels as Python; this compiles them with NVIDIA's real compiler (to PTX, no GPU needed),
    which type-checks them as a GPU would, and checks that float32 kernels do float32 arithmetic (no float64 maths)."""
    code = f"""
import numba
from numba import cuda
from foundations.matmul import _make_cuda_kernels
t = getattr(numba, "{dtype}")
for k in _make_cuda_kernels(t):
    ptx, _ = cuda.compile_ptx(k.py_func, (t[:, :], t[:, :], t[:, :]), cc=(7, 5))
    fma = "fma.rn.f32" if "{dtype}" == "float32" else "fma.rn.f64"
    f64_math = [l for l in ptx.splitlines() if any(op + ".f64" in l for op in ("add", "mul", "fma"))]
    print(k.py_func.__name__, fma in ptx, "bar.sync" in ptx, len(f64_math))
"""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["CUDA_HOME"] = _nvvm()
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = dict(l.split(" ", 1) for l in res.stdout.strip().splitlines())
    assert lines["one_thread_per_output"].split()[0] == "True"
    fma, sync, f64 = lines["shared_memory_tiles"].split()
    assert fma == "True" and sync == "True"
    if dtype == "float32": assert all(l.split()[2] == "0" for l in lines.values()), lines

# the console script installed beside this Python (pip install -e . puts it there)
BENCH = str(Path(sys.executable).with_name("foundations_bench"))

def test_bench_cli_prints_a_row_per_variant(tmp_path):
    png = tmp_path / "ladder.png"
    res = subprocess.run([BENCH, "--sizes", "6x20x7", "--budget", "0.01", "--png", str(png)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    table = res.stdout.splitlines()
    for v in mm.MATMUL_VARIANTS:
        row = [l for l in table if l.startswith(v + " ")]
        assert len(row) == 1, (v, res.stdout)
        assert "6x20x7" in row[0]
    assert png.exists() and png.stat().st_size > 1000

def test_bench_cli_rejects_bad_sizes():
    res = subprocess.run([BENCH, "--sizes", "5x0"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "MxKxN" in res.stderr

def test_bench_rows_and_skips():
    rows = mm.bench_matmul([(5, 784, 10), (300, 300, 300)], variants=["loops", "einsum", "tiled"], budget=0.01)
    by = {(r.variant, r.shape): r for r in rows}
    assert by[("torch @", (5, 784, 10))].vs_torch == 1.0
    assert by[("loops", (300, 300, 300))].seconds is None and "too slow" in by[("loops", (300, 300, 300))].note
    for key in [("loops", (5, 784, 10)), ("einsum", (300, 300, 300)), ("tiled", (300, 300, 300))]:
        r = by[key]
        assert r.seconds > 0 and r.gflops > 0 and r.first_call > 0
        assert abs(r.gflops - 2 * np.prod(r.shape) / r.seconds / 1e9) < 1e-6 * r.gflops
