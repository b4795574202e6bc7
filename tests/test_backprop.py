"""Property-based and error-case tests of the hand-written backward pass in `foundations.backprop`.

Hypothesis draws batch sizes, layer sizes and depths; for each draw the gradients that `Model.backward()` (and
`forward_and_backward`) write into `.g` must equal the gradients autograd computes for the same forward pass, in
float64 with a tight tolerance (and float32 with a tolerance that fits its precision).
"""
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from foundations.backprop import (Lin, LinearLayer, Model, Module, Mse, Relu, ReluFunction, check_grads,
                                  forward_and_backward, lin_grad, mse_grad, relu_grad)
from foundations.fully_connected import lin, mse, relu

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

def make_net(sizes, dtype, seed, targ_2d=False):
    "A seeded MLP `sizes[0] -> ... -> sizes[-1]` (ReLU between layers), its weights, a batch and regression targets."
    g = torch.Generator().manual_seed(seed)
    n = sizes[0]
    x = torch.randn(n, sizes[1], generator=g, dtype=dtype)
    ws = [torch.randn(a, b, generator=g, dtype=dtype) / a ** 0.5 for a, b in zip(sizes[1:-1], sizes[2:])]
    bs = [torch.randn(b, generator=g, dtype=dtype) for b in sizes[2:]]
    y = torch.randn(n, 1, generator=g, dtype=dtype) if targ_2d else torch.randn(n, generator=g, dtype=dtype)
    layers = []
    for i, (w, b) in enumerate(zip(ws, bs)):
        layers.append(Lin(w, b))
        if i < len(ws) - 1: layers.append(Relu())
    return x, y, ws, bs, layers

def autograd_grads(x, y, ws, bs):
    "Gradients of the same net's MSE loss with respect to every weight, bias and the input, from autograd."
    leaves = [t.detach().clone().requires_grad_() for t in [x, *ws, *bs]]
    xa, wa, ba = leaves[0], leaves[1:1 + len(ws)], leaves[1 + len(ws):]
    h = xa
    for i, (w, b) in enumerate(zip(wa, ba)):
        h = lin(h, w, b)
        if i < len(ws) - 1: h = relu(h)
    loss = mse(h, y)
    loss.backward()
    return loss.detach(), xa.grad, [w.grad for w in wa], [b.grad for b in ba]

@st.composite
def nets(draw):
    n = draw(st.integers(1, 64))
    hidden = draw(st.lists(st.integers(1, 24), min_size=0, max_size=3))
    n_in = draw(st.integers(1, 24))
    return [n, n_in, *hidden, 1], draw(st.integers(0, 2**31 - 1)), draw(st.booleans())

def assert_all_close(ours, ref, rtol, atol):
    for name, a, b in ours_ref_pairs(ours, ref):
        assert a.shape == b.shape and a.dtype == b.dtype, f"{name}: {a.shape}/{a.dtype} vs {b.shape}/{b.dtype}"
        assert torch.allclose(a, b, rtol=rtol, atol=atol), f"{name}: max error {(a - b).abs().max().item():.3g}"

def ours_ref_pairs(ours, ref):
    (xg, wg, bg), (xr, wr, br) = ours, ref
    yield "input", xg, xr
    for i, (a, b) in enumerate(zip(wg, wr)): yield f"w{i}", a, b
    for i, (a, b) in enumerate(zip(bg, br)): yield f"b{i}", a, b

@settings(max_examples=150, **SETTINGS)
@given(nets())
def test_model_grads_equal_autograd_float64(net):
    sizes, seed, targ_2d = net
    x, y, ws, bs, layers = make_net(sizes, torch.float64, seed, targ_2d)
    model = Model(layers, Mse())
    loss = model(x, y)
    model.backward()
    ref_loss, *ref = autograd_grads(x, y, ws, bs)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-12)
    assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), ref, rtol=1e-10, atol=1e-12)
    assert len(model.parameters()) == 2 * len(ws) and all(p.g is not None for p in model.parameters())

@settings(max_examples=60, **SETTINGS)
@given(nets())
def test_model_grads_equal_autograd_float32(net):
    sizes, seed, targ_2d = net
    x, y, ws, bs, layers = make_net(sizes, torch.float32, seed, targ_2d)
    model = Model(layers, Mse())
    model(x, y); model.backward()
    assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), autograd_grads(x, y, ws, bs)[1:], rtol=1e-4, atol=1e-5)

@settings(max_examples=80, **SETTINGS)
@given(st.integers(1, 64), st.integers(1, 24), st.integers(1, 24), st.integers(0, 2**31 - 1))
def test_forward_and_backward_equals_autograd(n, n_in, nh, seed):
    x, y, ws, bs, _ = make_net([n, n_in, nh, 1], torch.float64, seed)
    loss = forward_and_backward(x, y, ws[0], bs[0], ws[1], bs[1])
    ref_loss, *ref = autograd_grads(x, y, ws, bs)
    torch.testing.assert_close(loss, ref_loss)
    assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), ref, rtol=1e-10, atol=1e-12)

@settings(max_examples=40, **SETTINGS)
@given(st.integers(1, 40), st.integers(1, 16), st.integers(1, 16), st.integers(0, 2**31 - 1))
def test_check_grads_agrees_and_restores_flags(n, n_in, nh, seed):
    x, y, ws, bs, layers = make_net([n, n_in, nh, 1], torch.float64, seed)
    model = Model(layers, Mse())
    assert check_grads(model, x, y) < 1e-9
    assert not any(p.requires_grad for p in model.parameters()) and not x.requires_grad

def small_model(n=8, seed=0):
    x, y, ws, bs, layers = make_net([n, 5, 4, 1], torch.float64, seed)
    return Model(layers, Mse()), x, y, ws, bs

def test_backward_before_forward_raises():
    model, x, y, *_ = small_model()
    with pytest.raises(RuntimeError, match="forward pass first"): model.backward()
    with pytest.raises(RuntimeError, match="forward pass first"): Relu().backward()

def test_backward_consumes_the_forward():
    model, x, y, *_ = small_model()
    model(x, y); model.backward()
    with pytest.raises(RuntimeError, match="forward pass first"): model.backward()

def test_second_forward_wins():
    "Two forwards with different batches, then one backward: the gradients are those of the second batch."
    model, x, y, ws, bs = small_model(n=8)
    x2, y2 = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    model(x, y); model(x2, y2); model.backward()
    ref = autograd_grads(x2, y2, ws, bs)[1:]
    assert_all_close((x2.g, [w.g for w in ws], [b.g for b in bs]), ref, rtol=1e-10, atol=1e-12)

def test_predict_does_not_disturb_backward():
    model, x, y, ws, bs = small_model()
    model(x, y)
    preds = model.predict(torch.randn(11, 5, dtype=torch.float64))
    assert preds.shape == (11, 1)
    model.backward()
    assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), autograd_grads(x, y, ws, bs)[1:], rtol=1e-10, atol=1e-12)

def test_failed_forward_leaves_no_state():
    model, x, y, *_ = small_model()
    model(x, y)
    with pytest.raises(ValueError): model(torch.randn(4, 7, dtype=torch.float64), torch.randn(4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="forward pass first"): model.backward()

def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match=r"\(5, 4\)"): Lin(torch.randn(5, 4), torch.randn(3))
    with pytest.raises(TypeError): Lin([[1.0]], torch.zeros(1))
    with pytest.raises(ValueError, match="features"): Lin(torch.randn(5, 4), torch.zeros(4))(torch.randn(2, 6))
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, 1\)"): Mse()(torch.randn(4, 3), torch.randn(4))
    with pytest.raises(ValueError, match="rows"): mse_grad(torch.randn(4, 1), torch.randn(5))
    with pytest.raises(RuntimeError, match="no gradient"): relu_grad(torch.randn(3), torch.randn(3))
    out = torch.randn(2, 3); out.g = torch.randn(2, 3)
    with pytest.raises(ValueError, match="lin_grad"): lin_grad(torch.randn(2, 4), out, torch.randn(5, 3), torch.randn(3))

def test_model_rejects_reused_modules_and_shared_weights():
    r = Relu()
    w, b = torch.randn(3, 3), torch.zeros(3)
    with pytest.raises(ValueError, match="appears twice"): Model([Lin(w, b), r, Lin(torch.randn(3, 1), torch.zeros(1)), r], Mse())
    with pytest.raises(ValueError, match="shared"): Model([Lin(w, b), Relu(), Lin(w, torch.zeros(3))], Mse())
    with pytest.raises(TypeError, match="Module"): Model([torch.nn.ReLU()], Mse())

def test_forward_must_be_overridden():
    class NoForward(Module): pass
    with pytest.raises(NotImplementedError, match="NoForward"): NoForward()(torch.zeros(1))

def test_check_grads_catches_a_wrong_backward():
    class BadRelu(Relu):
        def bwd(self, out, inp): inp.g = out.g.clone()          # forgets the mask
    x, y, ws, bs, _ = make_net([16, 5, 6, 1], torch.float64, 3)
    model = Model([Lin(ws[0], bs[0]), BadRelu(), Lin(ws[1], bs[1])], Mse())
    with pytest.raises(AssertionError, match="layers.0.w"): check_grads(model, x, y)

def test_relu_function_and_linear_layer():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ReluFunction.apply, (x,))
    layer = LinearLayer(4, 3, generator=0, dtype=torch.float64)
    assert [tuple(p.shape) for p in layer.parameters()] == [(4, 3), (3,)]
    assert torch.autograd.gradcheck(layer, (x,))

def test_first_layer_without_input_grad():
    "`Lin(..., input_grad=False)` skips the input's gradient and leaves the parameters' gradients unchanged."
    x, y, ws, bs, _ = make_net([9, 5, 4, 1], torch.float64, 7)
    model = Model([Lin(ws[0], bs[0], input_grad=False), Relu(), Lin(ws[1], bs[1])], Mse())
    model(x, y); model.backward()
    assert not hasattr(x, "g")
    ref = autograd_grads(x, y, ws, bs)
    for a, b in zip([w.g for w in ws] + [b.g for b in bs], ref[2] + ref[3]): torch.testing.assert_close(a, b)
    assert check_grads(model, x, y, check_input=False) < 1e-9
    with pytest.raises(RuntimeError, match="check_input=False"): check_grads(model, x, y)
