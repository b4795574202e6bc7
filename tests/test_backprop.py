"""Property-based and error-case tests of the hand-written backward pass in `foundations.backprop`.

Hypothesis draws batch sizes, layer sizes and depths; for each draw the gradients that `Model.backward()` (and
`forward_and_backward`) write into `.g` must equal the gradients autograd computes for the same forward pass, in
float64 with a tight tolerance (and float32 with a tolerance that fits its precision).
"""
import io
import pdb
import re

import pytest
import torch
from hypothesis import given, settings, strategies as st

from foundations.backprop import (Lin, LinearLayer, Model, Module, Mse, Relu, ReluFunction, check_grads,
                                  forward_and_backward, lin_grad, mse_grad, relu_grad)
from foundations.fully_connected import lin, mse, relu

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

@pytest.mark.parametrize("dtype, examples, rtol, atol", [(torch.float64, 150, 1e-10, 1e-12), (torch.float32, 60, 1e-4, 1e-5)])
def test_model_grads_equal_autograd(dtype, examples, rtol, atol):
    @settings(max_examples=examples)
    @given(nets())
    def check(net):
        sizes, seed, targ_2d = net
        x, y, ws, bs, layers = make_net(sizes, dtype, seed, targ_2d)
        model = Model(layers, Mse())
        loss = model(x, y)
        model.backward()
        ref_loss, *ref = autograd_grads(x, y, ws, bs)
        torch.testing.assert_close(loss, ref_loss, rtol=rtol, atol=atol)
        assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), ref, rtol=rtol, atol=atol)
        assert len(model.parameters()) == 2 * len(ws) and all(p.g is not None for p in model.parameters())
    check()

@settings(max_examples=80)
@given(st.integers(1, 64), st.integers(1, 24), st.integers(1, 24), st.integers(0, 2**31 - 1))
def test_forward_and_backward_equals_autograd(n, n_in, nh, seed):
    x, y, ws, bs, _ = make_net([n, n_in, nh, 1], torch.float64, seed)
    loss = forward_and_backward(x, y, ws[0], bs[0], ws[1], bs[1])
    ref_loss, *ref = autograd_grads(x, y, ws, bs)
    torch.testing.assert_close(loss, ref_loss)
    assert_all_close((x.g, [w.g for w in ws], [b.g for b in bs]), ref, rtol=1e-10, atol=1e-12)

@settings(max_examples=40)
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


# --- Issue 12: no silent wrong answer from the gradient check, no obscure crash from bad input -------------------

def nan_model(where):
    "A small float64 model whose hand-written backward puts NaN into one place."
    x, y, ws, bs, _ = make_net([8, 5, 4, 1], torch.float64, 11)
    class NanRelu(Relu):
        def bwd(self, out, inp): inp.g = torch.full_like(inp, float("nan"))
    class OneNanLin(Lin):
        def bwd(self, out, inp):
            super().bwd(out, inp); self.b.g[0] = float("nan")
    first = OneNanLin(ws[0], bs[0]) if where == "one bias entry" else Lin(ws[0], bs[0])
    relu_ = NanRelu() if where == "relu" else Relu()
    return Model([first, relu_, Lin(ws[1], bs[1])], Mse()), x, y

@pytest.mark.parametrize("where", ["relu", "one bias entry"])
def test_check_grads_fails_on_nan_gradients(where, capsys):
    model, x, y = nan_model(where)
    with pytest.raises(AssertionError, match="our gradient holds [1-9][0-9]* NaN"): check_grads(model, x, y, verbose=True)
    assert "FAILED" in capsys.readouterr().out            # verbose says so too, instead of printing `nan` and passing

@pytest.mark.parametrize("what", ["x", "targ", "layers.0.w"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_check_grads_refuses_non_finite_inputs(what, value):
    x, y, ws, bs, layers = make_net([8, 5, 4, 1], torch.float64, 12)
    model = Model(layers, Mse())
    {"x": x, "targ": y, "layers.0.w": ws[0]}[what].view(-1)[3] = value
    with pytest.raises(ValueError, match=f"check_grads: {re.escape(what)} holds"): check_grads(model, x, y)

def test_check_grads_fails_on_non_finite_loss():
    "Finite inputs whose loss overflows: autograd's and our gradients are inf or nan, and the check must fail."
    x, y, ws, bs, layers = make_net([8, 5, 4, 1], torch.float32, 13)
    model = Model(layers, Mse())
    with pytest.raises(AssertionError, match="loss is inf"): check_grads(model, x * 1e30, y)

@pytest.mark.parametrize("args, exc, match", [
    (lambda m, x, y: (m, x.long(), y), TypeError, "x must be floating point"),
    (lambda m, x, y: (m, x.tolist(), y), TypeError, "x must be a tensor"),
    (lambda m, x, y: (m, x, y.numpy()), TypeError, "targ must be a tensor"),
    (lambda m, x, y: (m.layers, x, y), TypeError, "model must be a Model"),
    (lambda m, x, y: (m, x[:0], y[:0]), ValueError, "at least one sample"),
])
def test_check_grads_bad_arguments(args, exc, match):
    x, y, ws, bs, layers = make_net([8, 5, 4, 1], torch.float64, 14)
    with pytest.raises(exc, match=match): check_grads(*args(Model(layers, Mse()), x, y))

@pytest.mark.parametrize("kw, exc, match", [
    (dict(tol=float("nan")), ValueError, "tol must be a positive finite number"),
    (dict(tol=-1.0), ValueError, "tol must be"), (dict(tol="1e-4"), ValueError, "tol must be"),
    (dict(check_input="yes"), TypeError, "check_input must be True or False"),
    (dict(verbose=1), TypeError, "verbose must be True or False"),
])
def test_check_grads_bad_settings(kw, exc, match):
    x, y, ws, bs, layers = make_net([8, 5, 4, 1], torch.float64, 15)
    with pytest.raises(exc, match=match): check_grads(Model(layers, Mse()), x, y, **kw)

def test_mse_grad_empty_and_bad_input():
    with pytest.raises(ValueError, match="mse_grad: .*0 rows"): mse_grad(torch.zeros(0, 1), torch.zeros(0))
    with pytest.raises(ValueError, match="Mse: .*0 rows"): Mse()(torch.zeros(0), torch.zeros(0))
    with pytest.raises(TypeError, match="mse_grad: inp must be floating point"): mse_grad(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3))
    with pytest.raises(TypeError, match="mse_grad: inp must be a tensor"): mse_grad([1., 2.], torch.zeros(2))

def test_mse_grad_dtypes_follow_the_output():
    "Integer labels or a float64 target: the gradient is computed and stored in the output's dtype, values right."
    out = torch.randn(5, 1)
    for targ in (torch.tensor([0, 1, 2, 3, 4]), torch.arange(5, dtype=torch.float64)):
        mse_grad(out, targ)
        assert out.g.dtype == torch.float32 and out.g.shape == (5, 1)
        torch.testing.assert_close(out.g, (2 * (out[:, 0].double() - targ.double()) / 5).float()[:, None])

@pytest.mark.parametrize("call, exc, match", [
    (lambda: relu_grad(torch.arange(3), torch.arange(3)), TypeError, "relu_grad: inp must be a floating-point tensor"),
    (lambda: relu_grad([1.], torch.ones(1)), TypeError, "relu_grad: inp must be"),
    (lambda: relu_grad(torch.ones(3), torch.ones(4)), ValueError, "same shape and dtype"),
    (lambda: relu_grad(torch.ones(3), torch.ones(3)), RuntimeError, "no gradient"),
    (lambda: relu_grad(torch.ones(3, dtype=torch.float64), torch.ones(3)), ValueError, "same shape and dtype"),
])
def test_relu_grad_bad_input(call, exc, match):
    with pytest.raises(exc, match=match): call()

def with_grad(t, g):
    t.g = g
    return t

@pytest.mark.parametrize("call, exc, match", [
    (lambda: lin_grad(torch.randn(2, 4, dtype=torch.float64), with_grad(torch.randn(2, 3), torch.randn(2, 3)),
                      torch.randn(4, 3), torch.randn(3)), TypeError, "lin_grad: inp has dtype torch.float64"),
    (lambda: lin_grad(torch.randn(2, 4), with_grad(torch.randn(2, 3), torch.randn(2, 3)), torch.randn(4, 3).long(),
                      torch.randn(3)), TypeError, "lin_grad: w must be floating point"),
    (lambda: lin_grad(torch.randn(2, 4), with_grad(torch.randn(2, 3), torch.randn(2, 3)), torch.randn(3, 4),
                      torch.randn(3)), ValueError, "lin_grad: .*transpose"),
    (lambda: lin_grad(torch.randn(2, 4), with_grad(torch.randn(2, 3), torch.randn(2, 3, dtype=torch.float64)),
                      torch.randn(4, 3), torch.randn(3)), ValueError, "gradient `.g` must be a tensor of the output's shape and dtype"),
    (lambda: lin_grad(torch.randn(2, 4), with_grad(torch.randn(2, 3), 1.0), torch.randn(4, 3), torch.randn(3)),
     ValueError, "got float"),
    (lambda: lin_grad(torch.randn(2, 4), [[1.0]], torch.randn(4, 3), torch.randn(3)), ValueError, "out must be the layer's output"),
    (lambda: lin_grad(torch.randn(2, 4), with_grad(torch.randn(2, 3), torch.randn(2, 3)), torch.randn(4, 3), torch.randn(3),
                      input_grad=None), TypeError, "input_grad must be True or False"),
])
def test_lin_grad_bad_input(call, exc, match):
    with pytest.raises(exc, match=match): call()

def test_lin_grad_empty_batch_gives_zero_gradients():
    x, w, b = torch.zeros(0, 4), torch.randn(4, 3), torch.randn(3)
    out = with_grad(lin(x, w, b), torch.zeros(0, 3))
    lin_grad(x, out, w, b)
    assert x.g.shape == (0, 4) and torch.equal(w.g, torch.zeros(4, 3)) and torch.equal(b.g, torch.zeros(3))

def test_non_contiguous_views_give_the_right_gradients():
    "Transposed or strided inputs and weights: the same gradients as autograd on contiguous copies."
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 10, generator=g, dtype=torch.float64)[:, ::2]            # (6, 5), strided
    w1 = torch.randn(4, 5, generator=g, dtype=torch.float64).T                 # (5, 4), transposed view
    w2, b1, b2 = torch.randn(4, 1, generator=g, dtype=torch.float64), torch.randn(4, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)[::2]
    assert not x.is_contiguous() and not w1.is_contiguous() and not y.is_contiguous()
    forward_and_backward(x, y, w1, b1, w2, b2)
    _, xr, wr, br = autograd_grads(x.contiguous(), y.contiguous(), [w1.contiguous(), w2], [b1, b2])
    assert_all_close((x.g, [w1.g, w2.g], [b1.g, b2.g]), (xr, wr, br), rtol=1e-10, atol=1e-12)
    assert check_grads(Model([Lin(w1, b1), Relu(), Lin(w2, b2)], Mse()), x, y) < 1e-9

@pytest.mark.parametrize("call, exc, match", [
    (lambda: Lin(torch.randn(4, 3), torch.randn(3), input_grad="no"), TypeError, "Lin: input_grad must be True or False"),
    (lambda: Lin(torch.randn(4, 3).long(), torch.zeros(3).long()), TypeError, "Lin: w must be floating point"),
    (lambda: Lin(torch.randn(4, 3), torch.randn(3).double()), TypeError, "Lin: b has dtype torch.float64"),
    (lambda: Lin(torch.randn(4, 3), torch.randn(3))(torch.randn(2, 4).double()), TypeError, "x has dtype torch.float64"),
    (lambda: Model(Mse(), [Relu()]), TypeError, "did you swap layers and loss"),
    (lambda: Model(Relu(), Mse()), TypeError, "layers must be a list of Module instances"),
    (lambda: Model([Relu()], torch.nn.MSELoss()), TypeError, "got MSELoss"),
    (lambda: LinearLayer(0, 3), ValueError, "n_in must be >= 1"),
    (lambda: LinearLayer(4, 3, dtype=torch.int64), TypeError, "dtype must be a floating-point"),
    (lambda: LinearLayer(4, 3, generator="seed"), TypeError, "generator"),
    (lambda: ReluFunction.apply([1., -1.]), TypeError, "ReluFunction: inp must be a tensor"),
])
def test_module_bad_input(call, exc, match):
    with pytest.raises(exc, match=match): call()

def test_backward_without_forward_on_every_module():
    for m in (Relu(), Lin(torch.randn(3, 2), torch.zeros(2)), Mse()):
        with pytest.raises(RuntimeError, match=f"{type(m).__name__}.backward\\(\\) needs a forward pass first"): m.backward()

def test_classes_show_real_signatures():
    "The docs show each class's __init__: no `*args, **kwargs`."
    import inspect
    for cls in (Module, Relu, Mse, Lin, Model, ReluFunction, LinearLayer):
        assert "**kwargs" not in str(inspect.signature(cls)), cls


# --- The scripted debugger session of part 6 ---------------------------------------------------------------------

class Typed(io.StringIO):
    def __init__(self, cmds, log): super().__init__(cmds); self.log = log
    def readline(self, *args):
        line = super().readline(*args); self.log.write(line); return line

def test_scripted_pdb_stops_in_lin_grad_twice():
    "Break on lin_grad inside forward_and_backward: `w` names the caller, `c` reaches the second call, shapes at the prompt."
    x, y, ws, bs, _ = make_net([16, 7, 5, 1], torch.float32, 21)
    cmds = "b lin_grad\nc\nw\np inp.shape, w.shape\nc\np inp.shape, w.shape\nu\np l1.shape\nd\ncl 1\nc\n"
    log = io.StringIO()
    dbg = pdb.Pdb(stdin=Typed(cmds, log), stdout=log, nosigint=True, readrc=False)
    dbg.use_rawinput = False
    try:
        dbg.runcall(forward_and_backward, x, y, ws[0], bs[0], ws[1], bs[1])
    finally:
        dbg.clear_all_breaks()
    steps = [tuple((c + "\n").split("\n", 1)) for c in log.getvalue().split("(Pdb) ")[1:]]
    assert [c for c, _ in steps] == cmds.splitlines()
    frames = lambda answer: re.findall(r"\(\d+\)(\w+)\(\)\n->", answer)
    answer = dict(zip(["b", "c1", "w", "p1", "c2", "p2", "u", "p3", "d", "cl", "c3"], [a for _, a in steps]))
    assert "backprop.py" in answer["b"]
    assert frames(answer["c1"]) == ["lin_grad"] and frames(answer["c2"]) == ["lin_grad"]
    assert frames(answer["w"])[-2:] == ["forward_and_backward", "lin_grad"]
    assert answer["p1"].strip() == "(torch.Size([16, 5]), torch.Size([5, 1]))"
    assert answer["p2"].strip() == "(torch.Size([16, 7]), torch.Size([7, 5]))"
    assert frames(answer["u"]) == ["forward_and_backward"] and answer["p3"].strip() == "torch.Size([16, 5])"
    assert answer["c3"] == "\n" and ws[0].g.shape == (7, 5)                 # the pass ran to the end

def test_check_grads_needs_a_scalar_loss():
    "A loss module that forgets the mean: a clear error instead of autograd's message about implicit gradients."
    class SquaredErrors(Mse):
        def forward(self, inp, targ): return super().forward(inp, targ) * 0 + (inp[:, 0] - targ) ** 2
    x, y, ws, bs, layers = make_net([8, 5, 4, 1], torch.float64, 16)
    with pytest.raises(ValueError, match="loss must be a single number, got \\(8,\\)"):
        check_grads(Model(layers, SquaredErrors()), x, y)
