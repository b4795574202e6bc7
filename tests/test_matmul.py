"""Tests of `foundations.matmul`: every variant against PyTorch, on good input and on bad input.

- Property tests (Hypothesis) draw shapes from 1 to 24 in each dimension (smaller for the pure-Python loops and the
  CUDA kernels under the simulator), float32 and float64, contiguous and transposed inputs.
- Bad-input property tests draw what a new user might pass: wrong ranks, empty dimensions, NaN and inf, every dtype,
  non-contiguous views and NumPy arrays (negative strides, big-endian), and things that are not arrays at all. Each
  call must give the right answer (compared with a float64 product in PyTorch) or raise TypeError/ValueError naming
  the function and the argument.
- `bench_matmul`, `format_bench` and `plot_bench`: rows, paired ratios, argument checks before any timing.
"""
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from foundations import matmul as mm

VARIANTS = ["loops", "elementwise", "broadcast", "einsum", "numba", "tiled", "cuda"]
COMPILED = {"numba", "tiled", "cuda"}          # float32 / float64 only; NumPy in, NumPy out
# largest (m, k, n) per variant: the pure-Python loops and the simulated GPU are slow (the simulator runs every GPU
# thread as a Python thread; 17 rows or columns already need two 16x16 blocks)
# (test_cuda_tile_edges covers several blocks), so their shapes stay small
LIMITS = {"loops": (12, 24, 12), "elementwise": (16, 24, 16), "cuda": (12, 36, 12)}


def fn(variant): return getattr(mm, f"matmul_{variant}")


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


@pytest.mark.parametrize("variant", VARIANTS)
@given(data=st.data())
@settings(max_examples=30)
def test_matches_torch(variant, data):
    a, b = data.draw(operands(LIMITS.get(variant, (24, 40, 24))))
    close(fn(variant)(a, b), a, b)


@pytest.mark.parametrize("shape", [(3, 5, 4), (16, 16, 16), (17, 33, 18)])
@pytest.mark.parametrize("tiled", [False, True])
def test_cuda_tile_edges(shape, tiled):
    "Under the simulator: one partial block; exactly one tile; and 2x2 blocks with k spanning three 16-wide tiles."
    m, k, n = shape
    g = torch.Generator().manual_seed(m * 100 + k)
    a, b = torch.randn(m, k, generator=g), torch.randn(n, k, generator=g).T
    close(mm.matmul_cuda(a, b, tiled=tiled), a, b)
    close(mm.matmul_cuda(a.double(), b.double(), tiled=tiled), a.double(), b.double())


# ------------------------------------------------------------------ bad input, drawn systematically
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8, torch.int16,
          torch.int32, torch.int64, torch.bool, torch.complex64]
NOT_ARRAYS = [None, 3.0, "ab", [[1.0, 2.0]], ((1.0,),), {"a": 1}]


@st.composite
def operand(draw, rows, cols):
    "A tensor/array of about (rows, cols), in any dtype, layout and kind; sometimes of another rank or not an array."
    kind = draw(st.sampled_from(["tensor"] * 6 + ["numpy", "numpy-reversed", "numpy-bigendian", "rank", "not-array"]))
    if kind == "not-array": return draw(st.sampled_from(NOT_ARRAYS))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (rows, cols)
    if kind == "rank": shape = draw(st.sampled_from([(), (rows,), (rows, cols, 2), (1, rows, cols)]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**20)))
    x = torch.randint(-3, 4, shape, generator=g).to(torch.float64)
    if draw(st.booleans()) and x.numel() and dtype.is_floating_point:    # NaN and inf in some places
        specials = torch.tensor([math.nan, math.inf, -math.inf], dtype=torch.float64)
        mask = torch.rand(shape, generator=g) < 0.2
        x[mask] = specials[torch.randint(0, 3, shape, generator=g)][mask]
    if dtype == torch.uint8: x = x.abs()
    x = x.to(dtype)
    if len(shape) == 2 and draw(st.booleans()): x = x.T.contiguous().T                 # column-major view
    if len(shape) == 2 and draw(st.booleans()) and cols > 1:                           # a strided slice
        x = torch.cat([x, x], dim=1)[:, ::2]
    if kind.startswith("numpy") and dtype not in (torch.bfloat16,):
        x = x.numpy()
        if kind == "numpy-reversed": x = np.ascontiguousarray(x[::-1])[::-1]           # negative strides, same values
        if kind == "numpy-bigendian" and x.dtype.itemsize > 1: x = x.astype(x.dtype.newbyteorder(">"))
    return x


def as_tensor(x):
    "What the value means, as a tensor (NumPy arrays in native order); None if it is not an array."
    if isinstance(x, torch.Tensor): return x
    if isinstance(x, np.ndarray): return torch.from_numpy(np.array(x, dtype=x.dtype.newbyteorder("="), order="C", copy=True))
    return None


def expected_error(variant, a, b):
    "The exception type and the words its message must contain, or None when the call must succeed."
    ta, tb = as_tensor(a), as_tensor(b)
    for arg, t in (("a", ta), ("b", tb)):
        if t is None: return TypeError, [f"`{arg}`"]
    if ta.ndim != 2 or tb.ndim != 2:
        return ValueError, ["expected 2-D inputs", f"`{'a' if ta.ndim != 2 else 'b'}` has rank"]
    if ta.shape[1] != tb.shape[0]: return ValueError, ["cannot multiply shapes"]
    allowed = (torch.float32, torch.float64) if variant in COMPILED else mm._REAL_DTYPES
    for arg, t in (("a", ta), ("b", tb)):
        if t.dtype not in allowed: return TypeError, [f"`{arg}` has dtype"]
    return None


def check_result(out, a, b):
    ta, tb = as_tensor(a), as_tensor(b)
    out = torch.as_tensor(out)
    want = torch.promote_types(ta.dtype, tb.dtype)
    assert out.dtype == want and out.shape == (ta.shape[0], tb.shape[1]), (out.dtype, want, out.shape)
    ref = ta.double() @ tb.double()
    if want.is_floating_point:
        tol = 2e-2 if want in (torch.float16, torch.bfloat16) else 1e-5
        assert torch.allclose(out.double(), ref, rtol=tol, atol=tol, equal_nan=True), (out, ref)
    else:                                           # small integers: exact, as torch @ would be
        assert torch.equal(out, ref.to(want)), (out, ref)


@pytest.mark.parametrize("variant", VARIANTS)
@given(data=st.data())
@settings(max_examples=60)
def test_bad_input_right_answer_or_clear_error(variant, data):
    m, k, n = (data.draw(st.integers(0, 4)) for _ in range(3))
    k2 = data.draw(st.sampled_from([k, k, k, k + 1]))                       # sometimes the inner dimensions differ
    a, b = data.draw(operand(m, k)), data.draw(operand(k2, n))
    err = expected_error(variant, a, b)
    if err is None:
        check_result(fn(variant)(a, b), a, b)
    else:
        exc, words = err
        with pytest.raises(exc) as e: fn(variant)(a, b)
        msg = str(e.value)
        assert f"matmul_{variant}" in msg and all(w in msg for w in words), (msg, words)


@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_in_numpy_out(variant):
    a, b = np.random.rand(7, 5).astype(np.float32), np.random.rand(5, 3).astype(np.float32)
    out = fn(variant)(a, b)
    assert isinstance(out, np.ndarray if variant in COMPILED else torch.Tensor)
    np.testing.assert_allclose(np.asarray(out), a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("sa, sb, message", [
    ((3, 4), (5, 6), "cannot multiply shapes (3, 4) and (5, 6): the inner dimensions 4 and 5 differ"),
    ((3,), (3, 2), "expected 2-D inputs of shapes (m, k) and (k, n), got shapes (3,) and (3, 2)"),
    ((2, 3, 4), (4, 2), "got shapes (2, 3, 4) and (4, 2)"),
    ((2, 3), (3, 2, 1), "got shapes (2, 3) and (3, 2, 1)"),
])
def test_bad_shapes(variant, sa, sb, message):
    with pytest.raises(ValueError) as e: fn(variant)(torch.ones(sa), torch.ones(sb))
    assert message in str(e.value) and f"matmul_{variant}" in str(e.value)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape_a, shape_b", [((0, 3), (3, 2)), ((2, 0), (0, 3)), ((2, 3), (3, 0)), ((0, 0), (0, 0))])
def test_empty(variant, shape_a, shape_b):
    a, b = torch.ones(shape_a), torch.ones(shape_b)
    out = torch.as_tensor(fn(variant)(a, b))
    assert torch.equal(out, a @ b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_mixed_dtypes_promote(variant):
    a, b = torch.randn(4, 3, dtype=torch.float32), torch.randn(3, 2, dtype=torch.float64)
    out = torch.as_tensor(fn(variant)(a, b))
    assert out.dtype == torch.float64
    assert torch.allclose(out, a.double() @ b, atol=1e-5)


@pytest.mark.parametrize("variant", ["tiled", "numba"])
def test_bigger_than_blocks(variant):
    "Sizes that are not multiples of any block size, bigger than one block in every dimension."
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(131, 265, generator=g), torch.randn(265, 141, generator=g)
    close(fn(variant)(a, b), a, b)
    close(fn(variant)(b.T, a.T), b.T, a.T)


@pytest.mark.parametrize("blocks", [dict(mc=6, kc=1, nc=1), dict(mc=12, kc=3, nc=5),
                                    dict(mc=6 * 10**9, kc=10**9, nc=10**9), dict(mc=10**6 * 6)])
def test_tiled_any_block_sizes(blocks):
    "Block sizes far smaller or far larger than the matrices give the right answer (no giant buffers)."
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(13, 21, generator=g), torch.randn(21, 9, generator=g)
    close(mm.matmul_tiled(a, b, **blocks), a, b)


@pytest.mark.parametrize("m, k, n, kc", [(64, 784, 50, None), (37, 300, 50, 64), (9, 1000, 18, 96), (5, 40, 3, None),
                                         (130, 77, 20, 16)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiled_narrow_column_tail(m, k, n, kc, dtype):
    "A last panel of at most 4 columns (n % 16 <= 4) goes by dot products along k, over one or several depth blocks."
    g = torch.Generator().manual_seed(m + n)
    a, b = torch.randn(m, k, generator=g, dtype=dtype), torch.randn(k, n, generator=g, dtype=dtype)
    close(mm.matmul_tiled(a, b, kc=kc), a, b)


@pytest.mark.parametrize("m", [127, 128, 129, 130, 131, 133, 134])   # m % 6: 1, 2, 3, 4, 5, 1, 2
@pytest.mark.parametrize("k, n", [(40, 32), (300, 250)])             # A read in place; A packed (k*n > _DIRECT)
def test_tiled_short_last_row_block(m, k, n):
    "A last block of 1 to 5 rows goes to its own kernels: straight into C for whole panels, via a buffer for the tail."
    g = torch.Generator().manual_seed(m * n)
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    close(mm.matmul_tiled(a, b), a, b)
    close(mm.matmul_tiled(a, b, kc=16), a, b)                           # several depth blocks: C accumulates
    close(torch.from_numpy(mm.matmul_tiled(a.numpy(), b.numpy())), a, b)  # NumPy in: the same kernels


@pytest.mark.parametrize("m, k, n", [(3000, 784, 10), (2003, 300, 16), (1001, 5000, 1), (997, 300, 3), (20, 40000, 7)])
@pytest.mark.parametrize("layout", ["rows", "A.T"])
def test_tiled_one_panel_of_b(m, k, n, layout):
    "B at most 16 columns wide and A too big to be 'small': A read in place (never packed), no flip; n <= 4 by dot products."
    g = torch.Generator().manual_seed(m + k + n)
    a = torch.randn(k, m, generator=g).T if layout == "A.T" else torch.randn(m, k, generator=g)
    b = torch.randn(k, n, generator=g)
    close(mm.matmul_tiled(a, b), a, b)
    close(mm.matmul_tiled(a.double(), b.double(), kc=96), a.double(), b.double())


@pytest.mark.parametrize("k, n", [(1, 10), (2, 15), (5, 10), (40, 1), (33, 17)])
def test_tiled_narrow_panel_at_the_end_of_b(k, n):
    "A last panel narrower than 16 is packed 16 wide where that stays inside B, and number by number in B's last rows."
    g = torch.Generator().manual_seed(k * n)
    a, b = torch.randn(7, k, generator=g), torch.randn(k, n, generator=g)
    close(mm.matmul_tiled(a, b), a, b)                                   # B's last row: 16 wide would pass its end
    close(mm.matmul_tiled(a, b, kc=2), a, b)                             # and in each depth block of 2 rows


def test_tiled_tensor_fast_path_is_taken(monkeypatch):
    "Plain CPU float tensors never go through the NumPy conversion; anything else still does, with the same answer."
    a, b = torch.randn(9, 33), torch.randn(33, 20)
    calls = []
    real = mm._as_arrays
    monkeypatch.setattr(mm, "_as_arrays", lambda *args: calls.append(1) or real(*args))
    for x, y in ((a, b), (a.T.contiguous().T, b), (a, b.T.contiguous().T), (a.double(), b.double()),
                 (a.requires_grad_(False), torch.ones(33, 1).T.contiguous().T.expand(33, 1))):
        close(mm.matmul_tiled(x, y), x, y)
    assert calls == [], "a plain CPU tensor product went through _as_arrays"
    for x, y in ((a[:, ::2], b[::2]), (a, b.double()), (a, torch.ones(33, 1).expand(33, 20)),
                 (torch.randn(9, 33, dtype=torch.complex64).conj().imag, b)):
        out = mm.matmul_tiled(x, y)
        want = x.resolve_neg().double() @ y.double()
        assert torch.allclose(torch.as_tensor(out).double(), want, atol=1e-4), (x.stride(), x.dtype, y.dtype)
    assert len(calls) == 4
    with pytest.raises(TypeError, match=r"`a` is a torch.sparse_coo tensor.*\.to_dense\(\)"): mm.matmul_tiled(a.to_sparse(), b)


def test_tiled_tensor_result_is_fresh_and_inputs_unchanged():
    "The result owns new memory of the inputs' dtype; the inputs (read through their addresses) are not written."
    a, b = torch.randn(64, 784), torch.randn(784, 50)
    a0, b0 = a.clone(), b.clone()
    out = mm.matmul_tiled(a, b)
    assert out.dtype == torch.float32 and out.shape == (64, 50) and out.is_contiguous() and not out.requires_grad
    assert out.data_ptr() not in (a.data_ptr(), b.data_ptr()) and torch.equal(a, a0) and torch.equal(b, b0)
    assert not mm.matmul_tiled(a.requires_grad_(), b).requires_grad


@pytest.mark.parametrize("blocks, exc, words", [
    (dict(mc=4), ValueError, "mc must be a multiple of 6"), (dict(mc=0), ValueError, "`mc` must be an integer >= 1"),
    (dict(kc=-5), ValueError, "`kc`"), (dict(nc=2.5), TypeError, "`nc`"), (dict(nc=math.inf), TypeError, "`nc`"),
    (dict(kc=math.nan), TypeError, "`kc`"), (dict(mc=True), TypeError, "`mc`"), (dict(kc="64"), TypeError, "`kc`"),
])
def test_tiled_bad_block_sizes(blocks, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(")): mm.matmul_tiled(torch.ones(4, 4), torch.ones(4, 4), **blocks)


def test_cuda_tiled_flag_is_checked():
    with pytest.raises(TypeError, match="`tiled` must be True or False"): mm.matmul_cuda(torch.ones(2, 2), torch.ones(2, 2), tiled=1)


def test_inputs_are_not_modified():
    a, b = torch.randn(33, 17), torch.randn(17, 9)
    a0, b0 = a.clone(), b.clone()
    for v in VARIANTS: fn(v)(a, b)
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


# ------------------------------------------------------------------ the benchmark
def test_bench_rows_and_skips():
    rows = mm.bench_matmul([(5, 784, 10), (300, 300, 300, "A.T")], variants=["loops", "einsum", "tiled"], rounds=2)
    by = {(r.variant, r.shape): r for r in rows}
    assert [r.variant for r in rows[:4]] == ["loops", "einsum", "tiled", "torch @"]
    assert by[("torch @", (5, 784, 10))].vs_torch == 1.0
    assert by[("loops", (300, 300, 300))].seconds is None and "too slow" in by[("loops", (300, 300, 300))].note
    for key in [("loops", (5, 784, 10)), ("einsum", (300, 300, 300)), ("tiled", (300, 300, 300))]:
        r = by[key]
        assert r.seconds > 0 and r.gflops > 0 and r.first_call > 0 and r.threads == 1 and len(r.times) == 2
        assert abs(r.gflops - 2 * np.prod(r.shape) / r.seconds / 1e9) < 1e-6 * r.gflops
        assert r.spread[0] <= r.seconds <= r.spread[1]
        ref = by[("torch @", r.shape)]
        ratios = sorted(t / u for t, u in zip(r.times, ref.times))                  # paired, round by round
        assert r.vs_torch_spread == (ratios[0], ratios[-1]) and abs(r.vs_torch - sum(ratios) / 2) < 1e-12
    assert by[("tiled", (300, 300, 300))].layout == "A.T"


def test_bench_restores_threads_and_runs_on_two():
    if os.cpu_count() < 2: pytest.skip("one core")
    import numba
    before = torch.get_num_threads(), numba.get_num_threads()
    rows = mm.bench_matmul([(8, 8, 8)], variants=["tiled"], rounds=1, threads=2)
    assert all(r.threads == 2 for r in rows)
    assert (torch.get_num_threads(), numba.get_num_threads()) == before


@pytest.mark.parametrize("kw, exc, words", [
    (dict(rounds=math.nan), TypeError, "`rounds`"), (dict(rounds=math.inf), TypeError, "`rounds`"),
    (dict(rounds=-1), ValueError, "`rounds`"), (dict(rounds=0), ValueError, "`rounds`"), (dict(rounds=True), TypeError, "`rounds`"),
    (dict(threads=0), ValueError, "`threads`"), (dict(threads=10**4), ValueError, "`threads`"), (dict(threads=1.5), TypeError, "`threads`"),
    (dict(seed=-1), ValueError, "`seed`"), (dict(dtype=torch.int32), ValueError, "`dtype`"), (dict(dtype="float32"), ValueError, "`dtype`"),
    (dict(variants=["fast"]), ValueError, "unknown variants"), (dict(variants="tiled"), TypeError, "`variants`"),
    (dict(variants=3), TypeError, "`variants`"),
    (dict(sizes=[(0, 1, 1)]), ValueError, "`m` of size"), (dict(sizes=[(4, -1, 4)]), ValueError, "`k` of size"),
    (dict(sizes=[(4, 4)]), ValueError, "(m, k, n)"), (dict(sizes=(4, 4, 4)), TypeError, "for one size"),
    (dict(sizes=[(10**6, 10**6, 10**6)]), ValueError, "GB of memory"), (dict(sizes="1024"), TypeError, "`sizes`"),
    (dict(sizes=[]), ValueError, "empty"), (dict(sizes=[(4, 4, 4, "B.T")]), ValueError, "'A.T'"),
])
def test_bench_bad_arguments_fail_before_timing(kw, exc, words):
    "Every argument is checked before any work: a bad `rounds` next to a big size fails at once."
    args = dict(sizes=[(2048, 2048, 2048)], variants=["tiled"])
    args.update(kw)
    t0 = time.perf_counter()
    with pytest.raises(exc) as e: mm.bench_matmul(**args)
    assert time.perf_counter() - t0 < 1.0
    assert "bench_matmul" in str(e.value) and words in str(e.value), str(e.value)


def test_format_and_plot_agree(tmp_path):
    rows = mm.bench_matmul([(6, 20, 7)], variants=["loops", "broadcast", "einsum"], rounds=2)
    table = mm.format_bench(rows).splitlines()
    assert len(table) == len(rows) + 1
    for r in rows:
        line = next(l for l in table if l.startswith(r.variant + " "))
        assert mm._ratio(r.vs_torch) in line and "6x20x7" in line
    png = tmp_path / "ladder.png"
    fig = mm.plot_bench(rows, png)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    by = {r.variant: r for r in rows}
    assert [by[v].vs_torch for v in labels] == sorted((r.vs_torch for r in rows), reverse=True)     # slowest first
    assert [t.get_text() for t in fig.axes[0].texts] == [mm._ratio(by[v].vs_torch) for v in labels]
    assert png.exists() and png.stat().st_size > 1000
    with pytest.raises(ValueError, match="does not exist"): mm.plot_bench(rows, tmp_path / "no" / "such.png")
