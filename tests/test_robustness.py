"""Bad input, tried systematically across the public API.

Every case calls one exported function with one argument spoiled in one way, and asserts the library's promise:
either the right answer (compared with a float64 PyTorch reference computed from the same spoiled arguments), or an
exception of a documented type (ValueError or TypeError, plus the few documented others) whose message names the
argument. A wrong answer, or an obscure exception from deep inside, fails the case.

The kinds of spoiling, each a parametrized family (`pytest tests/test_robustness.py -k dtype` runs one kind):
- rank: one dimension too few or too many, or a 0-d tensor;
- empty: zero rows or zero columns;
- nonfinite: a nan or an inf in the values;
- dtype: every tensor dtype (bool, uint8 ... int64, float16, bfloat16, float64, complex64);
- layout: a non-contiguous view, a NumPy array, a nested list (a non-contiguous view must give the right answer);
- type: None, a string, a float, a torch.Generator where a tensor goes (must be refused);
- setting: nan, inf, 0, negative, fractional, string, bool values of the numeric and string settings;
- swap: two arguments of `fit` exchanged.
Hypothesis draws the sizes and values of each case (a few examples each, shrunk to the smallest on failure).
"""
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import Phase, given, note, settings, strategies as st

from foundations import backprop as BP
from foundations import data as D
from foundations import fully_connected as FC
from foundations import matmul as MM
from foundations import minibatch as MB

CLEAR = (ValueError, TypeError)
DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
          torch.float16, torch.bfloat16, torch.float64, torch.complex64]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]


class Undefined(Exception):
    "Raised by a reference when the spoiled input has no right answer: the library must then refuse it clearly."


# ---- what a good outcome is -----------------------------------------------------------------------------------------

def _names_argument(msg: str, names) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", msg) for n in names)


def _as_t(x):
    if isinstance(x, (tuple, list)): return [_as_t(o) for o in x]
    if isinstance(x, np.ndarray): return torch.from_numpy(x)
    return torch.as_tensor(x) if isinstance(x, (int, float, bool)) else x


def _close(out, ref, dtypes) -> str | None:
    "None when `out` equals `ref` to the precision of the input dtypes, else what differs."
    out, ref = _as_t(out), _as_t(ref)
    if isinstance(ref, list):
        if not isinstance(out, (list, tuple)) or len(out) != len(ref): return f"expected {len(ref)} results, got {out!r}"
        for o, r in zip(out, ref):
            why = _close(o, r, dtypes)
            if why: return why
        return None
    if not isinstance(out, torch.Tensor): return f"expected a tensor, got {type(out).__name__}"
    if tuple(out.shape) != tuple(ref.shape): return f"shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
    low = any(d in (torch.float16, torch.bfloat16) for d in dtypes)
    rtol, atol = (3e-2, 3e-2) if low else (1e-4, 1e-4)
    if ref.is_complex() or out.is_complex():
        o, r = out.to(torch.complex128), ref.to(torch.complex128)
        ok = torch.allclose(o, r, rtol=rtol, atol=atol, equal_nan=True)
    else:
        o, r = out.detach().double(), ref.detach().double()
        ok = torch.allclose(o, r, rtol=rtol, atol=atol * max(1., float(r.abs().nan_to_num(0, 0, 0).max()) if r.numel() else 1.), equal_nan=True)
    return None if ok else f"values differ: max |difference| {(o - r).abs().max().item() if o.numel() else 0:.3g}"


def check_outcome(call: Callable[[], Any], ref: Callable[[], Any] | None, names, must_work=False, errors=CLEAR,
                  dtypes=()) -> None:
    "The promise, for one call: the right answer, or a documented exception naming one of `names`."
    try:
        expected = ref() if ref is not None else None
        defined = True
    except (Undefined, RuntimeError, TypeError, ValueError, IndexError) as e:
        expected, defined = e, False
    try:
        out = call()
    except errors as e:
        if must_work and defined:
            pytest.fail(f"refused a valid input: {type(e).__name__}: {e}")
        assert str(e).strip(), f"{type(e).__name__} with an empty message"
        assert _names_argument(str(e), names), f"the message does not name the argument {names}: {type(e).__name__}: {e}"
        return
    except Exception as e:  # anything else is an obscure crash
        pytest.fail(f"obscure crash {type(e).__module__}.{type(e).__name__}: {e}")
    if not defined:
        pytest.fail(f"returned {out!r:.200} where there is no right answer ({type(expected).__name__}: {expected})")
    if ref is not None:
        why = _close(out, expected, dtypes)
        assert why is None, f"silent wrong answer: {why}"


# ---- spoiling a tensor argument ------------------------------------------------------------------------------------

def spoilers(x: torch.Tensor):
    "(kind, label, function making the spoiled value from a valid tensor) for every way to spoil a tensor argument."
    out = [("rank", "0-d", lambda t: t.reshape(-1)[:1].reshape(()) if t.numel() else torch.tensor(0.)),
           ("rank", "one more dim", lambda t: t[None]),
           ("rank", "one fewer dim", lambda t: t[0] if t.ndim else t),
           ("empty", "zero rows", lambda t: t[:0]),
           ("nonfinite", "nan", lambda t: _poke(t, float("nan"))),
           ("nonfinite", "inf", lambda t: _poke(t, float("inf"))),
           ("layout", "non-contiguous", _noncontig),
           ("layout", "numpy", lambda t: t.numpy()),
           ("layout", "list", lambda t: t.tolist()),
           ("type", "None", lambda t: None), ("type", "str", lambda t: "x"), ("type", "float", lambda t: 1.5),
           ("type", "generator", lambda t: torch.Generator())]
    out.append(("empty", "zero columns", lambda t: t[..., :0]))
    out += [("dtype", str(d).replace("torch.", ""), (lambda d: lambda t: t.to(d))(d)) for d in DTYPES]
    return out


def _poke(t, v):
    t = t.clone()
    if t.numel() and t.is_floating_point(): t.view(-1)[0] = v
    return t


def _noncontig(t):
    "The same values, not contiguous in memory."
    if t.ndim >= 2: return t.T.contiguous().T if t.shape[0] > 1 and t.shape[1] > 1 else torch.stack([t, t], -1)[..., 0]
    return torch.stack([t, t], -1)[..., 0] if t.ndim == 1 else t


@dataclass
class Spec:
    "How to call one exported function: valid arguments, the reference answer, and which arguments to spoil."
    name: str
    call: Callable[..., Any]                         # call(**args) -> result
    build: Callable[[Any], dict]                     # build(draw) -> valid arguments, by name
    ref: Callable[..., Any] | None                   # ref(**args) -> right answer in float64, or raise Undefined
    tensors: tuple = ()                              # arguments that are tensors
    settings: dict = field(default_factory=dict)     # argument -> bad values (non-tensor arguments)
    errors: tuple = CLEAR
    aliases: dict = field(default_factory=dict)     # argument -> other words a message may use for it
    kinds: tuple = ("rank", "empty", "nonfinite", "dtype", "layout", "type")
    examples: int = 2


def _t(draw, *shape, lo=-3., hi=3.):
    "A float32 tensor of `shape` with values drawn by hypothesis."
    n = math.prod(shape)
    vals = draw(st.lists(st.floats(lo, hi, width=32), min_size=n, max_size=n))
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)


def _dims(draw, k=3, lo=1, hi=5): return [draw(st.integers(lo, hi)) for _ in range(k)]


def _f64(x):
    "A float64 (or complex128) copy of a spoiled argument, the way a reference sees it; Undefined if it is no tensor."
    if isinstance(x, np.ndarray): x = torch.from_numpy(x)
    elif isinstance(x, list): x = torch.tensor(x)
    if not isinstance(x, torch.Tensor): raise Undefined(f"not a tensor: {type(x).__name__}")
    return x.to(torch.complex128) if x.is_complex() else x.double()


def _need(cond, why):
    if not cond: raise Undefined(why)


# ---- the references -------------------------------------------------------------------------------------------------

def ref_matmul(a, b):
    a, b = _f64(a), _f64(b)
    _need(a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0], "shapes")
    if a.is_complex() or b.is_complex(): return a.to(torch.complex128) @ b.to(torch.complex128)
    return a @ b


def ref_lin(x, w, b):
    x, w, b = _f64(x), _f64(w), _f64(b)
    _need(x.ndim == 2 and w.ndim == 2 and x.shape[1] == w.shape[0] and tuple(b.shape) == (w.shape[1],), "shapes")
    return x @ w + b


def _col(t):
    t = _f64(t)
    _need(t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1), "shape")
    return t.reshape(-1)


def ref_mse(output, targ):
    o, t = _col(output), _col(targ)
    _need(o.shape == t.shape and len(o) > 0, "rows")
    _need(not (o.is_complex() or t.is_complex()), "complex")
    return ((o - t) ** 2).mean()


def ref_relu(x):
    x = _f64(x)
    _need(not x.is_complex(), "complex")
    return x.clamp_min(0)


def ref_normalize(x, mean, std):
    x = _f64(x)
    for v in (mean, std): _need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), "setting")
    _need(std > 0, "std")
    return (x - mean) / std


def ref_mse_grad(inp, targ):
    o, t = _col(inp), _col(targ)
    _need(o.shape == t.shape and len(o) > 0 and not o.is_complex() and not t.is_complex(), "rows")
    return (2 * (o - t) / len(o)).reshape(_f64(inp).shape)


def ref_relu_grad(inp, out, g):
    inp, out, g = _f64(inp), _f64(out), _f64(g)
    _need(inp.shape == out.shape == g.shape and not inp.is_complex() and not g.is_complex(), "shapes")
    return torch.where(inp <= 0, torch.zeros_like(g), g)      # as autograd's relu: a nan input passes the gradient


def ref_lin_grad(inp, w, b, g):
    inp, w, b, g = _f64(inp), _f64(w), _f64(b), _f64(g)
    _need(inp.ndim == 2 and w.ndim == 2 and inp.shape[1] == w.shape[0] and tuple(b.shape) == (w.shape[1],)
          and tuple(g.shape) == (inp.shape[0], w.shape[1]), "shapes")
    _need(not any(t.is_complex() for t in (inp, w, b, g)), "complex")
    return [g @ w.T, inp.T @ g, g.sum(0)]


def _labels(targ, n_classes):
    if isinstance(targ, np.ndarray): targ = torch.from_numpy(targ)
    elif isinstance(targ, list): targ = torch.tensor(targ)
    _need(isinstance(targ, torch.Tensor) and targ.dtype in INT_DTYPES, "integer labels")
    _need(targ.ndim == 1, "targ shape")
    t = targ.long()
    _need(len(t) == 0 or (int(t.min()) >= 0 and int(t.max()) < n_classes), "label range")
    return t


def ref_logsumexp(x):
    x = _f64(x)
    _need(x.ndim >= 1 and x.shape[-1] > 0 and not x.is_complex(), "logits")
    return torch.logsumexp(x, -1)


def ref_log_softmax(x):
    x = _f64(x)
    _need(x.ndim >= 1 and x.shape[-1] > 0 and not x.is_complex(), "logits")
    return torch.log_softmax(x, -1)


def _scores_and_labels(scores, targ):
    "The (n, c) scores in float64 and the labels as int64, or Undefined when they do not make a batch."
    scores = _f64(scores)
    _need(scores.ndim == 2 and scores.shape[0] > 0 and scores.shape[1] > 0 and not scores.is_complex(), "scores")
    t = _labels(targ, scores.shape[1])
    _need(len(t) == scores.shape[0], "rows")
    return scores, t


def ref_nll(inp, targ): return F.nll_loss(*_scores_and_labels(inp, targ))
def ref_cross_entropy(inp, targ): return F.cross_entropy(*_scores_and_labels(inp, targ))


def ref_accuracy(out, targ):
    out, t = _scores_and_labels(out, targ)
    _need(not out.isnan().any(), "nan scores")
    return (out.argmax(1) == t).double().mean()


# ---- the calls ------------------------------------------------------------------------------------------------------

def _matmul_args(draw):
    m, k, n = _dims(draw)
    return dict(a=_t(draw, m, k), b=_t(draw, k, n))


def _lin_args(draw):
    n, i, o = _dims(draw)
    return dict(x=_t(draw, n, i), w=_t(draw, i, o), b=_t(draw, o))


def _pair_args(draw, a="output", b="targ"):
    n = draw(st.integers(1, 6))
    shape = (n,) if draw(st.booleans()) else (n, 1)
    return {a: _t(draw, *shape), b: _t(draw, *shape)}


def _logits_args(draw, x="inp", y="targ"):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    if draw(st.booleans()): c = n                      # batch size == number of classes: where a mask can hide
    dt = draw(st.sampled_from(INT_DTYPES))
    return {x: _t(draw, n, c), y: torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=dt)}


def _lin_grad_call(inp, w, b, g):
    out = torch.zeros(tuple(g.shape)) if isinstance(g, torch.Tensor) else torch.zeros(1)
    out.g = g
    BP.lin_grad(inp, out, w, b)
    return [inp.g, w.g, b.g]


def _relu_grad_call(inp, out, g):
    out = out.clone() if isinstance(out, torch.Tensor) else out
    if isinstance(out, torch.Tensor): out.g = g
    BP.relu_grad(inp, out)
    return inp.g


def _mse_grad_call(inp, targ):
    BP.mse_grad(inp, targ)
    return inp.g


def _relu_grad_args(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    inp = _t(draw, n, c)
    return dict(inp=inp, out=inp.clamp_min(0), g=_t(draw, n, c))


def _lin_grad_args(draw):
    a = _lin_args(draw)
    return dict(inp=a["x"], w=a["w"], b=a["b"], g=_t(draw, a["x"].shape[0], a["w"].shape[1]))


BAD_INTS = [0, -1, 2.5, float("nan"), float("inf"), "3", True, None]
BAD_FLOATS = [float("nan"), float("inf"), -float("inf"), "0.1", None, True]

MATMULS = ["matmul_loops", "matmul_elementwise", "matmul_broadcast", "matmul_einsum", "matmul_numba", "matmul_tiled"]
SPECS = [Spec(name, (lambda f: lambda a, b: f(a, b))(getattr(MM, name)), _matmul_args, ref_matmul, ("a", "b"))
         for name in MATMULS]
SPECS += [
    # the CUDA kernels run under Numba's simulator here, a few hundred times slower: fewer examples
    Spec("matmul_cuda", lambda a, b: MM.matmul_cuda(a, b), _matmul_args, ref_matmul, ("a", "b"), examples=1,
         kinds=("rank", "empty", "layout", "type", "dtype")),
    Spec("matmul_tiled blocks", lambda a, b, mc, kc, nc: MM.matmul_tiled(a, b, mc=mc, kc=kc, nc=nc),
         lambda draw: {**_matmul_args(draw), "mc": 72, "kc": 128, "nc": 512},
         lambda a, b, mc, kc, nc: (_need(all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                            for v in (mc, kc, nc)), "blocks"), ref_matmul(a, b))[1],
         settings={"mc": BAD_INTS + [6 * 10 ** 5], "kc": [v for v in BAD_INTS if v is not None] + [10 ** 6], "nc": BAD_INTS + [10 ** 6]}, kinds=()),
    Spec("normalize", lambda x, mean, std: FC.normalize(x, mean, std),
         lambda draw: dict(x=_t(draw, draw(st.integers(1, 4)), 3), mean=0.13, std=0.31), ref_normalize, ("x",),
         settings={"mean": BAD_FLOATS, "std": BAD_FLOATS + [0., -1.]}),
    Spec("lin", lambda x, w, b: FC.lin(x, w, b), _lin_args, ref_lin, ("x", "w", "b")),
    Spec("relu", lambda x: FC.relu(x), lambda draw: dict(x=_t(draw, 3, 4)), ref_relu, ("x",)),
    Spec("mse", lambda output, targ: FC.mse(output, targ), _pair_args, ref_mse, ("output", "targ")),
    Spec("mse_grad", _mse_grad_call, lambda draw: _pair_args(draw, "inp", "targ"), ref_mse_grad, ("inp", "targ")),
    # a missing or misshaped gradient `.g` is the documented RuntimeError of a backward pass run out of order
    Spec("relu_grad", _relu_grad_call, _relu_grad_args, ref_relu_grad, ("inp", "g"),
         aliases={"g": ["out", "gradient"]}, errors=CLEAR + (RuntimeError,)),
    Spec("lin_grad", _lin_grad_call, _lin_grad_args, ref_lin_grad, ("inp", "w", "b", "g"),
         aliases={"g": ["out", "gradient"], "inp": ["out"]}, errors=CLEAR + (RuntimeError,)),
    Spec("Lin", lambda x, w, b: BP.Lin(w, b)(x), _lin_args, ref_lin, ("x", "w", "b")),
    Spec("logsumexp", lambda x: MB.logsumexp(x), lambda draw: dict(x=_t(draw, 3, 4)), ref_logsumexp, ("x",)),
    Spec("log_softmax", lambda x: MB.log_softmax(x), lambda draw: dict(x=_t(draw, 3, 4)), ref_log_softmax, ("x",)),
    Spec("nll", lambda inp, targ: MB.nll(inp, targ), _logits_args, ref_nll, ("inp", "targ")),
    Spec("cross_entropy", lambda inp, targ: MB.cross_entropy(inp, targ), _logits_args, ref_cross_entropy,
         ("inp", "targ")),
    Spec("CrossEntropy", lambda inp, targ: MB.CrossEntropy()(inp, targ), _logits_args, ref_cross_entropy,
         ("inp", "targ")),
    Spec("accuracy", lambda out, targ: MB.accuracy(out, targ), lambda draw: _logits_args(draw, "out", "targ"),
         ref_accuracy, ("out", "targ")),
]

# every integer label dtype, for every loss, with batch size == number of classes: the right loss, not a mask
LABEL_SPECS = [s for s in SPECS if s.name in ("nll", "cross_entropy", "CrossEntropy", "accuracy")]


def _cases():
    for s in SPECS:
        for argname in s.tensors:
            for kind, label, _ in spoilers(torch.zeros(2, 2)):
                if kind in s.kinds: yield pytest.param(s, argname, label, id=f"{kind}-{s.name}-{argname}-{label}")
        for argname, bads in s.settings.items():
            for i, v in enumerate(bads):
                yield pytest.param(s, argname, i, id=f"setting-{s.name}-{argname}-{v!r}")


@pytest.mark.parametrize("spec,argname,how", list(_cases()))
def test_bad_input(spec, argname, how):
    # derandomized, so the first examples are already the simplest; no shrinking phase (it would only cost time)
    @settings(max_examples=spec.examples, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate))
    @given(st.data())
    def run(data):
        args = spec.build(data.draw)
        if isinstance(how, int):                       # a bad setting
            args[argname] = spec.settings[argname][how]
        else:
            kind, _, spoil = next(s for s in spoilers(args[argname]) if s[1] == how)
            args[argname] = spoil(args[argname])
        note(f"args: { {k: (tuple(v.shape), v.dtype) if isinstance(v, torch.Tensor) else v for k, v in args.items()} }")
        dtypes = [v.dtype for v in args.values() if isinstance(v, torch.Tensor)]
        must_work = not isinstance(how, int) and how == "non-contiguous"
        fresh = lambda: {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in args.items()}
        check_outcome(lambda: spec.call(**fresh()), (lambda: spec.ref(**fresh())) if spec.ref else None,
                      names=[argname, *spec.aliases.get(argname, [])] + ([spec.name] if isinstance(how, int) else []),
                      must_work=must_work, errors=spec.errors, dtypes=dtypes)
    run()


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("spec", LABEL_SPECS, ids=lambda s: s.name)
def test_every_integer_label_dtype_gives_the_right_loss(spec, dtype):
    "Labels of every integer dtype, with as many rows as classes (where uint8 labels would act as a boolean mask)."
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 10):
        args = {spec.tensors[0]: torch.randn(n, n, generator=g), "targ": torch.randperm(n, generator=g).to(dtype)}
        args["targ"][0] = args["targ"][1]              # not a permutation: a mask would pick other entries
        check_outcome(lambda: spec.call(**args), lambda: spec.ref(**args), ["targ"], must_work=True,
                      dtypes=[torch.float32])


# ---- settings of the other exported functions (no tensor to compare: a clear error, or a sound result) --------------

def _expect_clear(f, names, errors=CLEAR):
    try: out = f()
    except errors as e:
        assert _names_argument(str(e), names), f"the message does not name {names}: {type(e).__name__}: {e}"
        return
    except Exception as e: pytest.fail(f"obscure crash {type(e).__module__}.{type(e).__name__}: {e}")
    pytest.fail(f"accepted a bad value and returned {out!r:.200}")


SETTING_CASES = []
for arg, bads in {"n_in": BAD_INTS, "n_out": BAD_INTS, "mode": ["fan_x", torch.Generator(), 3, None],
                  "generator": ["seed", 2.5, float("nan"), [1]], "dtype": ["float32", torch.int64, 3]}.items():
    for init in ("init_xavier", "init_kaiming"):
        for v in bads: SETTING_CASES.append((init, arg, v))
for arg, bads in {"n_layers": BAD_INTS, "width": BAD_INTS, "init": [float("nan"), float("inf"), "x", None]}.items():
    for v in bads: SETTING_CASES.append(("activation_stats", arg, v))
for arg, bads in {"pct": [float("nan"), -0.1, 1.5, "0.5", None], "warmup": [0., 1., float("nan"), "0.2"]}.items():
    for v in bads: SETTING_CASES.append(("warmup_linear", arg, v))
for arg, bads in {"lr": BAD_FLOATS + [0., -0.1]}.items():
    for v in bads: SETTING_CASES.append(("Optimizer", arg, v))
for arg, bads in {"n_or_ds": [-1, 2.5, float("nan"), "10", None], "seed": ["a", 2.5, float("nan")]}.items():
    for v in bads: SETTING_CASES.append(("Sampler", arg, v))
for arg, bads in {"batch_size": [0, -1, 2.5, float("nan"), "8", True, None]}.items():
    for v in bads: SETTING_CASES.append(("BatchSampler", arg, v))
    for v in bads: SETTING_CASES.append(("DataLoader", arg, v))
for arg, bads in {"n_in": BAD_INTS, "nh": BAD_INTS, "n_out": BAD_INTS, "hand_written": ["yes", 1, None],
                  "seed": ["a", 2.5]}.items():
    for v in bads: SETTING_CASES.append(("get_model", arg, v))


def _call_setting(fname, arg, v):
    if fname in ("init_xavier", "init_kaiming"):
        kw = dict(n_in=4, n_out=3, mode="fan_in", generator=0, dtype=torch.float32); kw[arg] = v
        return getattr(FC, fname)(kw.pop("n_in"), kw.pop("n_out"), **kw)
    if fname == "activation_stats":
        kw = dict(init=0.1, n_layers=3, width=8); kw[arg] = v
        return FC.activation_stats(kw.pop("init"), n_layers=kw["n_layers"], width=kw["width"])
    if fname == "warmup_linear":
        kw = dict(pct=0.5, warmup=0.2); kw[arg] = v
        return MB.warmup_linear(kw["pct"], kw["warmup"])
    if fname == "Optimizer": return MB.Optimizer([torch.zeros(3, requires_grad=True)], lr=v)
    if fname == "Sampler":
        kw = dict(n_or_ds=10, shuffle=True, seed=0); kw[arg] = v
        return list(MB.Sampler(kw["n_or_ds"], shuffle=True, seed=kw["seed"]))
    if fname == "BatchSampler": return list(MB.BatchSampler(range(10), v))
    if fname == "DataLoader": return list(MB.DataLoader(MB.Dataset(torch.zeros(10, 2), torch.zeros(10)), batch_size=v))
    if fname == "get_model":
        kw = dict(n_in=4, nh=3, n_out=2, hand_written=False, seed=0); kw[arg] = v
        return MB.get_model(**kw)
    raise AssertionError(fname)


@pytest.mark.parametrize("fname,arg,value", SETTING_CASES, ids=[f"setting-{f}-{a}-{v!r}" for f, a, v in SETTING_CASES])
def test_bad_setting(fname, arg, value):
    _expect_clear(lambda: _call_setting(fname, arg, value), [arg])


# ---- silent wrong results found by reading the outputs, one test each ---------------------------------------------

def _tiny_model(seed=0, nan_in_backward=False):
    g = torch.Generator().manual_seed(seed)
    w1, b1 = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    w2, b2 = torch.randn(3, 1, generator=g, dtype=torch.float64), torch.randn(1, generator=g, dtype=torch.float64)

    class NanRelu(BP.Relu):
        def bwd(self, out, inp):
            super().bwd(out, inp)
            inp.g = inp.g * float("nan")
    relu = NanRelu() if nan_in_backward else BP.Relu()
    return BP.Model([BP.Lin(w1, b1), relu, BP.Lin(w2, b2)], BP.Mse())


@pytest.mark.parametrize("where", ["backward", "input"])
def test_check_grads_fails_on_nan(where):
    "A gradient check must not report a match when the hand-written gradient, or the input, holds a nan."
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    if where == "input": x[0, 0] = float("nan")
    model = _tiny_model(nan_in_backward=where == "backward")
    try:
        res = BP.check_grads(model, x, y)
    except (ValueError, FloatingPointError, AssertionError) as e:
        assert re.search(r"nan|non-finite|not finite", str(e), re.I), f"the error does not say nan: {e}"
        return
    pytest.fail(f"check_grads passed ({res!r}) with a nan in the {where}")


def _dls(n=64, bs=16, n_valid=32):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n + n_valid, 4, generator=g), torch.randint(0, 3, (n + n_valid,), generator=g)
    return (MB.DataLoader(MB.Dataset(x[:n], y[:n]), batch_size=bs, shuffle=True, seed=0),
            MB.DataLoader(MB.Dataset(x[n:], y[n:]), batch_size=bs))


def _fit_args(lr=0.1, hand_written=False):
    model, step = MB.get_model(4, 5, 3, seed=0, hand_written=hand_written)
    tdl, vdl = _dls()
    return [1, model, MB.cross_entropy, MB.Optimizer(model.parameters(), lr=lr), tdl, vdl], step


@pytest.mark.parametrize("hand_written", [False, True], ids=["autograd", "hand-written"])
@pytest.mark.parametrize("lr", [30., 1e3, 1e6, 1e12])
def test_fit_stops_a_diverging_run(lr, hand_written):
    "At a huge learning rate the losses explode: fit must stop with a clear error, never finish with a nan or 1e35."
    args, step = _fit_args(lr=lr, hand_written=hand_written)
    args[0] = 3
    try:
        hist = MB.fit(*args, step=step, progress=False)
    except (FloatingPointError, ValueError) as e:
        assert re.search(r"(?i)diverg|nan|inf|finite", str(e)), f"the error does not say what happened: {e}"
        return
    losses = hist["batch_loss"] + hist["valid_loss"] + hist["train_loss"]
    assert all(math.isfinite(v) for v in losses), f"fit finished normally with non-finite losses: {hist['valid_loss']}"
    assert max(losses) < 1e4 * max(hist["batch_loss"][0], 1.), f"fit finished normally after the loss exploded to {max(losses):.3g}"


# every pair but the two loaders, which no check can tell apart (both are loaders of the same kind of batches)
SWAPS = [(i, j) for i in range(6) for j in range(i + 1, 6) if (i, j) != (4, 5)]
FIT_NAMES = ["epochs", "model", "loss_func", "opt", "train_dl", "valid_dl"]


@pytest.mark.parametrize("i,j", SWAPS, ids=[f"swap-fit-{FIT_NAMES[i]}-{FIT_NAMES[j]}" for i, j in SWAPS])
def test_fit_with_two_arguments_swapped(i, j):
    args, step = _fit_args()
    args[i], args[j] = args[j], args[i]
    _expect_clear(lambda: MB.fit(*args, step=step, progress=False), [FIT_NAMES[i], FIT_NAMES[j]])


def test_fit_with_an_empty_validation_loader():
    args, step = _fit_args()
    empty = MB.Dataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    _expect_clear(lambda: MB.fit(*args[:5], empty, step=step, progress=False), ["valid_dl", "validation"])
    try: args[5] = MB.DataLoader(empty, batch_size=4)  # a loader over nothing may be refused already, clearly
    except CLEAR as e: assert _names_argument(str(e), ["ds", "dataset", "empty"]), e; return
    _expect_clear(lambda: MB.fit(*args, step=step, progress=False), ["valid_dl", "validation"])


# ---- where the data lives ------------------------------------------------------------------------------------------

DEAD_URL = "http://127.0.0.1:9/mnist.pkl.gz"       # nothing listens there: a download attempt fails at once

def test_data_folder_that_is_a_file(tmp_path, monkeypatch):
    f = tmp_path / "mnist.pkl.gz"
    f.write_bytes(b"not used")
    monkeypatch.setenv("FOUNDATIONS_DATA", str(f))
    _expect_clear(lambda: D.get_mnist(url=DEAD_URL), ["FOUNDATIONS_DATA"], errors=(D.MNISTError, ValueError))
    _expect_clear(lambda: D.get_mnist(f, url=DEAD_URL), ["folder"], errors=(D.MNISTError, ValueError))


def test_mistyped_data_folder_is_not_created(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("FOUNDATIONS_DATA", str(missing))
    _expect_clear(lambda: D.get_mnist(url=DEAD_URL), ["FOUNDATIONS_DATA"], errors=(D.MNISTError, ValueError))
    assert not missing.exists(), "a mistyped folder was created"
