"""Property-based tests of `foundations.fully_connected` beyond the notebook's examples.

Hypothesis draws layer sizes and batch sizes: the inits must give the derived std for every size and mode, `lin` must
agree with `F.linear` for every fitting shape and name the shapes for every misfit, and `mse` must never broadcast.
"""
import math

import pytest
import torch
import torch.nn.functional as F
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
@pytest.mark.parametrize("bad", [(0, 3), (3, -1), (2.0, 3)])
def test_init_bad_sizes(init, bad):
    with pytest.raises(ValueError, match="positive integers"): init(*bad)


@pytest.mark.parametrize("init", [init_xavier, init_kaiming])
def test_init_bad_mode_and_generator(init):
    with pytest.raises(ValueError, match="mode must be one of"): init(3, 4, mode="fan")
    with pytest.raises(TypeError, match="generator must be"): init(3, 4, generator=1.5)
    with pytest.raises(TypeError, match="generator must be"): init(3, 4, generator=True)


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
