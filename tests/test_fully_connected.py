"""Property-based tests of `foundations.fully_connected` beyond the notebook's examples.

Hypothesis draws layer sizes and batch sizes: the inits must give the derived std for every size and mode, `lin` must
agree with `F.linear` for every fitting shape and name the shapes for every misfit, and `mse` must never broadcast.
"""
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from hypothesis import given, settings, strategies as st

from foundations.fully_connected import (_check_lin, _mse_args, activation_stats, init_kaiming, init_xavier, lin, mse,
                                         normalize, relu, test_near_zero)

sizes = st.integers(1, 300)
FANS = {"fan_in": lambda i, o: i, "fan_out": lambda i, o: o, "fan_avg": lambda i, o: (i + o) / 2}


@settings(max_examples=40)
@given(n_in=sizes, n_out=sizes, mode=st.sampled_from(sorted(FANS)), seed=st.integers(0, 2**31 - 1))
def test_init_std(n_in, n_out, mode, seed):
    fan = FANS[mode](n_in, n_out)
    for init, gain in ((init_xavier, 1.0), (init_kaiming, 2.0)):
        w = init(n_in, n_out, mode=mode, generator=seed, dtype=torch.float64)
        assert w.shape == (n_in, n_out) and w.dtype == torch.float64
        # E[mean(w^2)] = gain / fan exactly; its relative std over n_in * n_out draws is sqrt(2 / count):
        # 6 of those standard deviations (plus a little slack) never fail by chance, and a wrong constant
        # (e.g. fan_in and fan_out swapped, or 1 instead of 2) fails whenever the sizes differ enough to tell.
        count = n_in * n_out
        rel = w.pow(2).mean().item() / (gain / fan) - 1
        assert abs(rel) < 6 * math.sqrt(2 / count) + 1e-9, (rel, count)
        assert torch.equal(w, init(n_in, n_out, mode=mode, generator=seed, dtype=torch.float64))


@pytest.mark.parametrize("init", [init_xavier, init_kaiming])
@pytest.mark.parametrize("args,kwargs,exc,msg", [
    ((0, 3), {}, ValueError, "n_in must be >= 1, got 0"),
    ((3, -1), {}, ValueError, "n_out must be >= 1, got -1"),
    ((2.0, 3), {}, TypeError, "n_in must be an int, got 2.0"),
    ((3, True), {}, TypeError, "n_out must be an int, got True"),
    ((784, 50, torch.Generator()), {}, ValueError, "a generator or seed goes in generator=..."),
    ((784, 50, 0), {}, ValueError, "a generator or seed goes in generator=..."),
    ((3, 4), {"mode": "fan"}, ValueError, "mode must be one of"),
    ((3, 4), {"generator": 1.5}, TypeError, "generator (a seed) must be an int"),
    ((3, 4), {"generator": True}, TypeError, "generator (a seed) must be an int"),
    ((3, 4), {"generator": -2}, ValueError, "generator (a seed) must be >= 0"),
    ((3, 4), {"dtype": torch.int64}, TypeError, "dtype must be a floating-point torch dtype"),
    ((3, 4), {"dtype": "float32"}, TypeError, "dtype must be a floating-point torch dtype"),
])
def test_init_bad_arguments(init, args, kwargs, exc, msg):
    with pytest.raises(exc) as e: init(*args, **kwargs)
    assert str(e.value).startswith(init.__name__ + ": ") and msg in str(e.value)


@pytest.mark.parametrize("init", [init_xavier, init_kaiming])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_init_every_float_dtype(init, dtype):
    w = init(64, 32, generator=0, dtype=dtype)
    assert w.dtype == dtype and w.shape == (64, 32) and torch.isfinite(w).all()


@settings(max_examples=60)
@given(n=st.integers(1, 20), n_in=st.integers(1, 20), n_out=st.integers(1, 20))
def test_lin_matches_torch(n, n_in, n_out):
    g = torch.Generator().manual_seed(n * 400 + n_in * 20 + n_out)
    x, w, b = torch.randn(n, n_in, generator=g), torch.randn(n_in, n_out, generator=g), torch.randn(n_out, generator=g)
    torch.testing.assert_close(lin(x, w, b), F.linear(x, w.T, b))
    assert torch.equal(relu(x), torch.relu(x))


@settings(max_examples=60)
@given(n=st.integers(1, 6), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       b_shape=st.lists(st.integers(1, 6), min_size=0, max_size=2), w_rows=st.integers(1, 6))
def test_lin_refuses_misfits(n, n_in, n_out, b_shape, w_rows):
    x, w, b = torch.zeros(n, n_in), torch.zeros(w_rows, n_out), torch.zeros(b_shape)
    if w_rows == n_in and tuple(b_shape) == (n_out,):
        assert lin(x, w, b).shape == (n, n_out)
    else:
        with pytest.raises(ValueError, match=r"lin: .*\(") as e: lin(x, w, b)
        assert str(tuple(w.shape)) in str(e.value) or str(tuple(b.shape)) in str(e.value)


@settings(max_examples=60)
@given(n=st.integers(1, 30), out_col=st.booleans(), targ_col=st.booleans())
def test_mse_never_broadcasts(n, out_col, targ_col):
    g = torch.Generator().manual_seed(n)
    o, t = torch.randn(n, generator=g), torch.randn(n, generator=g)
    ref = ((o - t) ** 2).mean()
    res = mse(o[:, None] if out_col else o, t[:, None] if targ_col else t)
    assert res.shape == () and torch.allclose(res, ref)


@pytest.mark.parametrize("out_shape,targ_shape,msg", [
    ((5, 2), (5,), "output must have shape"), ((5,), (5, 3), "targ must have shape"),
    ((5, 1), (4,), "5 rows but targ has 4"), ((5, 1, 1), (5,), "got (5, 1, 1)"), ((), (1,), "got ()")])
def test_mse_errors(out_shape, targ_shape, msg):
    with pytest.raises(ValueError) as e: mse(torch.zeros(out_shape), torch.zeros(targ_shape))
    assert msg in str(e.value)


def test_normalize_and_test_near_zero():
    x = torch.randn(1000, 7, generator=torch.Generator().manual_seed(0)) * 3 + 2
    m, s = x.mean(0), x.std(0)
    xn = normalize(x, m, s)
    torch.testing.assert_close(xn.mean(0), torch.zeros(7), atol=1e-5, rtol=0)
    test_near_zero(xn.std(0).mean() - 1)
    with pytest.raises(ValueError, match="std must be > 0"): normalize(x, m, torch.zeros(7))
    with pytest.raises(AssertionError, match="got 0.5"): test_near_zero(0.5)


def test_near_zero_is_not_collected():
    "Imported by its own name into a test module, the helper must not be collected as a test."
    assert test_near_zero.__test__ is False


@pytest.mark.parametrize("who", ["lin", "lin_grad", "Lin"])
def test_check_lin_messages_start_with_the_caller(who):
    w, b = torch.zeros(784, 50), torch.zeros(50)
    _check_lin(who, w, b, torch.zeros(3, 784))
    with pytest.raises(ValueError, match=rf"^{who}: .*nn.Linear's \(n_out, n_in\) weight"): _check_lin(who, w.T, b)
    with pytest.raises(ValueError, match=rf"^{who}: .*nn.Linear's"): _check_lin(who, w, b, torch.zeros(3, 50))
    with pytest.raises(TypeError, match=rf"^{who}: w must be a tensor"): _check_lin(who, w.tolist(), b)


@pytest.mark.parametrize("out_shape,targ_shape", [((4,), (4,)), ((4, 1), (4,)), ((4,), (4, 1)), ((4, 1), (4, 1))])
def test_mse_args_returns_views(out_shape, targ_shape):
    o, t = torch.randn(out_shape), torch.arange(4).reshape(targ_shape)
    a, b = _mse_args("Mse", o, t)
    assert a.shape == b.shape == (4,) and a.data_ptr() == o.data_ptr() and b.data_ptr() == t.data_ptr()


def test_activation_stats_explosion_is_data_not_a_crash():
    st_ = activation_stats(10.0, n_layers=60, width=16, n_samples=8)
    assert not torch.isfinite(st_.std[-1]) and st_.std.shape == (60,) and st_.mean.shape == (60,)
    same = activation_stats(lambda i, o, g: torch.randn(i, o, generator=g) * 0.25, n_layers=5, width=16)
    torch.testing.assert_close(same.std, activation_stats(0.25, n_layers=5, width=16).std)


# ---- bad input (issue 12): the right answer or a clear error naming the argument, never a silent wrong answer ----

X3 = torch.tensor([[1., 3.], [5., 7.]])

@pytest.mark.parametrize("args,exc,msg", [
    ((X3, 2.0, math.inf), ValueError, "normalize: std must be finite, got inf"),     # used to give all zeros
    ((X3, 2.0, math.nan), ValueError, "normalize: std must be finite, got nan"),
    ((X3, -math.inf, 1.0), ValueError, "normalize: mean must be finite"),
    ((X3, 2.0, 0.0), ValueError, "normalize: std must be > 0"),
    ((X3, 2.0, torch.tensor([1., -1.])), ValueError, "normalize: std must be > 0"),
    ((X3, torch.zeros(3, 1, 1), 1.0), ValueError, "normalize: mean of shape (3, 1, 1) does not broadcast"),  # grew x
    ((X3, torch.zeros(3), 1.0), ValueError, "normalize: mean of shape (3,) does not broadcast"),
    ((X3.tolist(), 2.0, 1.0), TypeError, "normalize: x must be a tensor, got list"),
    ((X3, "2", 1.0), TypeError, "normalize: mean must be a number or a tensor, got str"),
    ((X3, 2.0, None), TypeError, "normalize: std must be a number or a tensor, got NoneType"),
    ((X3.to(torch.complex64), 2.0, 1.0), TypeError, "normalize: x must be real"),
])
def test_normalize_bad_input(args, exc, msg):
    with pytest.raises(exc) as e: normalize(*args)
    assert msg in str(e.value)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int32, torch.int64, torch.bool,
                                   torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_normalize_every_dtype(dtype):
    x = torch.tensor([[0, 1], [1, 0]]).to(dtype)
    res = normalize(x, 0.5, 0.5)
    assert res.is_floating_point() and torch.equal(res.float(), torch.tensor([[-1., 1.], [1., -1.]]))


def test_normalize_empty():
    assert normalize(torch.zeros(0, 784), 0.13, 0.31).shape == (0, 784)


@pytest.mark.parametrize("x,w,b,exc,msg", [
    (torch.zeros(2, 3).tolist(), torch.zeros(3, 4), torch.zeros(4), TypeError, "lin: x must be a tensor, got list"),
    (torch.zeros(2, 3), torch.zeros(3, 4).numpy(), torch.zeros(4), TypeError, "lin: w must be a tensor, got ndarray"),
    (torch.zeros(2, 3), torch.zeros(3, 4), 0.0, TypeError, "lin: b must be a tensor, got float"),
    (torch.zeros(2, 3, dtype=torch.uint8), torch.zeros(3, 4), torch.zeros(4), TypeError, "lin: x has dtype torch.uint8"),
    (torch.zeros(2, 3), torch.zeros(3, 4), torch.zeros(4, dtype=torch.float64), TypeError, "lin: b has dtype"),
    (torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64),
     TypeError, "lin: w must be floating point"),
    (torch.zeros(2, 3), torch.zeros(3, 4, 1), torch.zeros(4), ValueError, "lin: w must be 2-D"),
    (torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(4), ValueError, "nn.Linear's (n_out, n_in) weight"),
    (torch.zeros(3), torch.zeros(3, 4), torch.zeros(4), ValueError, "x[None]"),
])
def test_lin_bad_input(x, w, b, exc, msg):
    with pytest.raises(exc) as e: lin(x, w, b)
    assert msg in str(e.value)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_lin_every_float_dtype_and_empty(dtype, n):
    g = torch.Generator().manual_seed(n)
    x, w, b = (torch.randn(*s, generator=g).to(dtype) for s in ((n, 3), (3, 4), (4,)))
    res = lin(x, w, b)
    assert res.dtype == dtype and res.shape == (n, 4)
    torch.testing.assert_close(res.double(), F.linear(x.double(), w.double().T, b.double()), atol=0.05, rtol=0.02)


@pytest.mark.parametrize("output,targ,exc,msg", [
    (torch.zeros(0), torch.zeros(0), ValueError, "mse: output and targ have 0 rows"),          # used to give nan
    (torch.zeros(0, 1), torch.zeros(0), ValueError, "mse: output and targ have 0 rows"),
    (torch.zeros(3).tolist(), torch.zeros(3), TypeError, "mse: output must be a tensor, got list"),
    (torch.zeros(3), 1.0, TypeError, "mse: targ must be a tensor, got float"),
    (torch.zeros(3, dtype=torch.int64), torch.zeros(3), TypeError, "mse: output must be floating point"),
    (torch.zeros(3), torch.zeros(3, dtype=torch.bool), TypeError, "mse: targ must hold real numbers, got torch.bool"),
    (torch.zeros(3, dtype=torch.complex64), torch.zeros(3), TypeError, "mse: output must hold real numbers"),
])
def test_mse_bad_input(output, targ, exc, msg):
    with pytest.raises(exc) as e: mse(output, targ)
    assert msg in str(e.value)


@pytest.mark.parametrize("tdtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                                    torch.float16, torch.float32, torch.float64])
def test_mse_every_target_dtype(tdtype):
    out, targ = torch.tensor([[1.], [2.], [7.]]), torch.tensor([1, 4, 9])
    torch.testing.assert_close(mse(out, targ.to(tdtype)).double(), torch.tensor(8 / 3, dtype=torch.float64),
                               atol=1e-2, rtol=1e-2)


def test_relu_bad_input():
    with pytest.raises(TypeError, match="relu: x must be a tensor, got list"): relu([-1.0, 2.0])
    with pytest.raises(TypeError, match="relu: x must be real"): relu(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="normalize: std must be real"): normalize(X3, 0.0, torch.ones(2, dtype=torch.complex64))


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"init": 0.1, "width": 0}, ValueError, "width must be >= 1, got 0"),
    ({"init": 0.1, "n_samples": 0}, ValueError, "n_samples must be >= 2, got 0"),    # empty input batch
    ({"init": 0.1, "n_samples": 1}, ValueError, "n_samples must be >= 2, got 1"),
    ({"init": 0.1, "n_layers": 2.5}, TypeError, "n_layers must be an int, got 2.5"),
    ({"init": 0.1, "seed": None}, TypeError, "seed must be an int, got None"),
    ({"init": math.inf}, ValueError, "init scale must be finite, got inf"),
    ({"init": math.nan}, ValueError, "init scale must be finite, got nan"),
    ({"init": True}, TypeError, "init must be a scale"),
    ({"init": torch.Generator()}, TypeError, "init must be a scale"),
    ({"init": 0.1, "act": "relu"}, TypeError, "act must be a function or None, got str"),
    ({"init": lambda i, o, g: torch.zeros(i, o, dtype=torch.int64)}, ValueError, "init must return a floating-point"),
    ({"init": lambda i, o, g: None}, ValueError, "init must return a floating-point tensor of shape (100, 100), got NoneType"),
])
def test_activation_stats_bad_input(kwargs, exc, msg):
    with pytest.raises(exc) as e: activation_stats(n_layers=kwargs.pop("n_layers", 3), **kwargs)
    assert str(e.value).startswith("activation_stats: ") and msg in str(e.value)


@pytest.mark.parametrize("bad,exc", [(torch.zeros(3), ValueError), (math.nan, AssertionError), (0.5, AssertionError)])
def test_near_zero_bad_input(bad, exc):
    with pytest.raises(exc): test_near_zero(bad)
    with pytest.raises(ValueError, match="tol must be a positive finite number"): test_near_zero(0.0, tol=math.inf)


# ---- property-based bad input (issue 12): any dtype, rank, size (including empty), NaN/inf, non-contiguous views ----
# Every call must give the right answer (compared with PyTorch in float64) or raise TypeError/ValueError whose
# message starts with the function's name and the argument at fault.

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float32,
          torch.float64, torch.complex64]
FILLS = ["normal", "zeros", "nan", "inf", "mixed"]


@st.composite
def any_tensors(draw, max_rank=3, max_side=4):
    shape = draw(st.lists(st.integers(0, max_side), min_size=0, max_size=max_rank))
    dtype, fill, seed = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(FILLS)), draw(st.integers(0, 2**16))
    t = torch.randn(shape + [2], generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    if fill == "zeros": t = torch.zeros_like(t)
    if fill in ("nan", "inf", "mixed") and t.numel():
        special = {"nan": math.nan, "inf": math.inf, "mixed": -math.inf}[fill]
        t.view(-1)[:: max(1, t.numel() // 3)] = special
        if fill == "mixed": t.view(-1)[1::4] = math.nan
    t = t[..., 0] if draw(st.booleans()) else t[..., 1]           # a non-contiguous view half of the time
    if dtype.is_floating_point or dtype.is_complex: return t.to(dtype)
    return torch.nan_to_num(t, nan=0, posinf=100, neginf=-100).round().clamp(-100, 100).to(dtype)


def names_an_argument(e, who, args):
    return isinstance(e, (TypeError, ValueError)) and re.match(rf"{who}: ({'|'.join(args)})\b", str(e))


@given(x=any_tensors(), w=any_tensors(), b=any_tensors())
def test_lin_any_input(x, w, b):
    try: res = lin(x, w, b)
    except Exception as e:
        assert names_an_argument(e, "lin", ["x", "w", "b"]), repr(e)
        return
    assert w.is_floating_point() and x.dtype == b.dtype == w.dtype and x.ndim == w.ndim == 2
    assert x.shape[1] == w.shape[0] and b.shape == (w.shape[1],) and res.shape == (x.shape[0], w.shape[1])
    tol = dict(atol=0.1, rtol=0.05) if w.dtype in (torch.float16, torch.bfloat16) else {}
    torch.testing.assert_close(res.double(), (x.double() @ w.double() + b.double()).to(w.dtype).double(), equal_nan=True, **tol)


@given(output=any_tensors(max_rank=2), targ=any_tensors(max_rank=2))
def test_mse_any_input(output, targ):
    try: res = mse(output, targ)
    except Exception as e:
        assert names_an_argument(e, "mse", ["output", "targ"]), repr(e)
        return
    o, t = output.reshape(-1), targ.reshape(-1)
    assert output.is_floating_point() and not targ.is_complex() and len(o) == len(t) > 0
    assert output.ndim in (1, 2) and targ.ndim in (1, 2) and res.shape == ()
    ref = (o.double() - t.double()).pow(2).mean()
    tol = dict(atol=0.5, rtol=0.05) if res.dtype in (torch.float16, torch.bfloat16) else dict(rtol=1e-4, atol=1e-5)
    if torch.isfinite(ref) and torch.isfinite(res): torch.testing.assert_close(res.double(), ref, **tol)
    else: assert not torch.isfinite(res) or not torch.isfinite(ref) or res.dtype in (torch.float16, torch.bfloat16)


stats_ = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), any_tensors(max_rank=2))

@given(x=any_tensors(), mean=stats_, std=stats_)
def test_normalize_any_input(x, mean, std):
    try: res = normalize(x, mean, std)
    except Exception as e:
        assert names_an_argument(e, "normalize", ["x", "mean", "std"]), repr(e)
        return
    m, s = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(std, dtype=torch.float64)
    assert res.shape == x.shape and res.is_floating_point() and torch.isfinite(m).all() and (s > 0).all()
    ref = (x.double() - m) / s
    tol = dict(atol=0.1, rtol=0.05) if res.dtype in (torch.float16, torch.bfloat16) else dict(rtol=1e-4, atol=1e-4)
    finite = torch.isfinite(ref) & torch.isfinite(res.double())
    torch.testing.assert_close(res.double()[finite], ref[finite], **tol)


@given(x=st.one_of(any_tensors(), st.lists(st.floats()), st.none()))
def test_relu_any_input(x):
    try: res = relu(x)
    except Exception as e:
        assert names_an_argument(e, "relu", ["x"]), repr(e)
        return
    assert res.shape == x.shape
    if x.dtype != torch.bool: assert torch.equal(res, torch.where(x > 0, x, torch.zeros_like(x)).to(res.dtype)) or x.isnan().any()
