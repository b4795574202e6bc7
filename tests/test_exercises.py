"""Tests of the exercise checkers (`foundations.exercises`).

For every exercise: the model solution and at least two other, differently written right answers pass; at least
three typical wrong answers fail with the right diagnosis; an empty function is "not implemented yet" without an
exception. Plus hints, solutions and the Feedback display.
"""
import itertools
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from foundations import fully_connected
from foundations.exercises import Exercise, Feedback, ex01, ex02, ex03, ex04

ALL = [e for g in (ex01, ex02, ex03, ex04) for e in g]

# ---------------------------------------------------------------- ex01: matrix multiplication

def one_loop_rows(a, b):
    return torch.stack([(a[i].unsqueeze(1) * b).sum(dim=0) for i in range(a.shape[0])])

def one_loop_cols(a, b):
    c = torch.empty(a.shape[0], b.shape[1])
    for j in range(b.shape[1]):
        c[:, j] = (a * b[:, j]).sum(1)
    return c

def one_loop_two_loops(a, b):
    c = torch.zeros(a.shape[0], b.shape[1])
    for i in range(a.shape[0]):
        for j in range(b.shape[1]): c[i, j] = (a[i] * b[:, j]).sum()
    return c

def one_loop_uses_at(a, b):
    return torch.stack([a[i] @ b for i in range(a.shape[0])])

def one_loop_transposed(a, b):
    c = torch.zeros(b.shape[1], a.shape[0])
    for i in range(a.shape[0]): c[:, i] = (a[i, :, None] * b).sum(0)
    return c

def one_loop_row_broadcast(a, b):
    c = torch.zeros(a.shape[0], b.shape[1])
    for i in range(a.shape[0]): c[i] = (a[i] * b).sum(0)
    return c

def one_loop_in_place(a, b):
    a.mul_(2)
    return torch.stack([(a[i, :, None] * b).sum(0) / 2 for i in range(a.shape[0])])

def no_loop_unsqueeze(a, b): return (a.unsqueeze(-1) * b.unsqueeze(0)).sum(-2)
def no_loop_ellipsis(a, b): return (a[..., None] * b).sum(1)
def no_loop_bt(a, b): return (a[:, None, :] * b.T[None]).sum(-1)
def no_loop_loop(a, b): return torch.stack([(a[i, :, None] * b).sum(0) for i in range(len(a))])
def no_loop_wrong_axis(a, b): return (a[:, :, None] * b).sum(2)
def no_loop_einsum(a, b): return torch.einsum("ik,kj->ij", a, b)
def no_loop_b_transposed(a, b): return (a[:, None] * b).sum(-1)

def bs_zip_longest(s1, s2):
    out = []
    for a, b in itertools.zip_longest(reversed(s1), reversed(s2), fillvalue=1):
        if a == 1 or b == 1 or a == b: out.append(a if b == 1 else b)
        else: raise ValueError(f"{a} and {b} do not broadcast")
    return tuple(reversed(out))

def bs_numpy(s1, s2): return tuple(np.broadcast_shapes(tuple(s1), tuple(s2)))

def bs_left(s1, s2):
    out = []
    for a, b in itertools.zip_longest(s1, s2, fillvalue=1):
        if a != b and 1 not in (a, b): raise ValueError("no")
        out.append(max(a, b))
    return tuple(out)

def bs_unchecked(s1, s2):
    return tuple(reversed([max(a, b) for a, b in itertools.zip_longest(reversed(s1), reversed(s2), fillvalue=1)]))

def bs_zip_short(s1, s2):
    out = []
    for a, b in zip(reversed(s1), reversed(s2)):
        if a != b and 1 not in (a, b): raise ValueError("no")
        out.append(max(a, b))
    return tuple(reversed(out))

def bs_runtime_error(s1, s2): return tuple(torch.broadcast_shapes(s1, s2))

def bmm_ellipsis(a, b): return torch.einsum("...ij,...jk->...ik", a, b)
def bmm_letters(a, b): return torch.einsum("nab,nbc->nac", a, b)
def bmm_at(a, b): return a @ b
def bmm_transposed(a, b): return torch.einsum("bik,bkj->bji", a, b)
def bmm_batch_summed(a, b): return torch.einsum("bik,bkj->ij", a, b)
def bmm_bt(a, b): return torch.einsum("bik,bjk->bij", a, b)

# ---------------------------------------------------------------- ex02: forward pass and init

def std_power(n_in, w_std): return (n_in * w_std ** 2) ** 0.5
def std_torch(n_in, w_std): return torch.tensor(n_in * w_std * w_std, dtype=torch.float64).sqrt().item()
def std_variance(n_in, w_std): return n_in * w_std ** 2
def std_linear(n_in, w_std): return n_in * w_std
def std_divided(n_in, w_std): return w_std / n_in ** 0.5

def kaiming_normal_(n_in, n_out, generator=None):
    return torch.empty(n_in, n_out).normal_(0, math.sqrt(2 / n_in), generator=generator)
def kaiming_torch_normal(n_in, n_out, generator=None):
    return torch.normal(0., math.sqrt(2 / n_in), (n_in, n_out), generator=generator)
def kaiming_uniform(n_in, n_out, generator=None):
    return (torch.rand(n_in, n_out, generator=generator) * 2 - 1) * math.sqrt(6 / n_in)   # U(-b, b) has std b / sqrt(3)
def kaiming_transposed(n_in, n_out, generator=None):
    return torch.randn(n_out, n_in, generator=generator) * math.sqrt(2 / n_in)
def kaiming_lecun(n_in, n_out, generator=None):
    return torch.randn(n_in, n_out, generator=generator) / math.sqrt(n_in)
def kaiming_unseeded(n_in, n_out, generator=None):
    return torch.randn(n_in, n_out) * math.sqrt(2 / n_in)
def kaiming_fan_out(n_in, n_out, generator=None):
    return torch.randn(n_in, n_out, generator=generator) * math.sqrt(2 / n_out)

def mse_functional(output, targ): return F.mse_loss(output.squeeze(-1), targ)
def mse_manual(output, targ): return (output.view(-1) - targ).pow(2).sum() / len(targ)
def mse_column_targ(output, targ): return ((output - targ[:, None]) ** 2).mean()
def mse_broadcast(output, targ): return (output - targ).pow(2).mean()
def mse_summed(output, targ): return ((output[:, 0] - targ) ** 2).sum()
def mse_root(output, targ): return torch.sqrt(((output.squeeze(1) - targ) ** 2).mean())

def norm_population(x_train, x_valid):
    m, s = x_train.mean(), x_train.std(correction=0)
    return (x_train - m) / s, (x_valid - m) / s
def norm_by_hand(x_train, x_valid):
    m = x_train.sum() / x_train.numel()
    s = ((x_train - m) ** 2).sum().div(x_train.numel() - 1).sqrt()
    return [(x - m) / s for x in (x_train, x_valid)]
def norm_own_stats(x_train, x_valid):
    return tuple((x - x.mean()) / x.std() for x in (x_train, x_valid))
def norm_in_place(x_train, x_valid):
    m, s = x_train.mean(), x_train.std()
    x_train.sub_(m).div_(s)
    return x_train, (x_valid - m) / s
def norm_per_column(x_train, x_valid):
    m, s = x_train.mean(0), x_train.std(0)
    return (x_train - m) / s, (x_valid - m) / s
def norm_variance(x_train, x_valid):
    m, v = x_train.mean(), x_train.var()
    return (x_train - m) / v, (x_valid - m) / v

# ---------------------------------------------------------------- ex03: backward pass

def mse_grad_column(inp, targ): inp.g = 2 * (inp - targ[:, None]) / inp.shape[0]
def mse_grad_view(inp, targ): inp.g = (2 * (inp.view(-1) - targ) / len(targ)).view_as(inp)
def mse_grad_autograd(inp, targ):
    x = inp.detach().clone().requires_grad_()
    ((x[:, 0] - targ) ** 2).mean().backward()
    inp.g = x.grad
def mse_grad_no_n(inp, targ): inp.g = 2 * (inp - targ[:, None])
def mse_grad_no_2(inp, targ): inp.g = (inp - targ[:, None]) / len(targ)
def mse_grad_returned(inp, targ): return 2 * (inp - targ[:, None]) / len(targ)
def mse_grad_broadcast(inp, targ): inp.g = 2 * (inp - targ) / len(targ)

def relu_grad_out(inp, out): inp.g = out.g * (out > 0)
def relu_grad_where(inp, out): inp.g = torch.where(inp > 0, out.g, torch.zeros_like(out.g))
def relu_grad_clone(inp, out):
    inp.g = out.g.clone()
    inp.g[inp <= 0] = 0
def relu_grad_unmasked(inp, out): inp.g = out.g
def relu_grad_no_chain(inp, out): inp.g = (inp > 0).float()
def relu_grad_inverted(inp, out): inp.g = out.g * (inp <= 0)
def relu_grad_in_place(inp, out):
    out.g[inp <= 0] = 0
    inp.g = out.g

def lin_grad_einsum(inp, out, w, b):
    inp.g = torch.einsum("nj,ij->ni", out.g, w)
    w.g = torch.einsum("ni,nj->ij", inp, out.g)
    b.g = torch.einsum("nj->j", out.g)
def lin_grad_outer(inp, out, w, b):
    inp.g = (out.g[:, None, :] * w[None]).sum(-1)
    w.g = (inp[:, :, None] * out.g[:, None, :]).sum(0)
    b.g = out.g.T @ torch.ones(len(inp))
def lin_grad_no_bias(inp, out, w, b):
    inp.g, w.g = out.g @ w.T, inp.T @ out.g
def lin_grad_bias_mean(inp, out, w, b):
    inp.g, w.g, b.g = out.g @ w.T, inp.T @ out.g, out.g.mean(0)
def lin_grad_w_transposed(inp, out, w, b):
    inp.g, w.g, b.g = out.g @ w.T, out.g.T @ inp, out.g.sum(0)
def lin_grad_w_over_n(inp, out, w, b):
    inp.g, w.g, b.g = out.g @ w.T, inp.T @ out.g / inp.shape[0], out.g.sum(0)

def fb_by_hand(inp, targ, w1, b1, w2, b2):
    l1 = inp @ w1 + b1
    l2 = l1.clamp_min(0)
    out = l2 @ w2 + b2
    diff = out[:, 0] - targ
    out.g = (2 * diff / len(targ))[:, None]
    l2.g, w2.g, b2.g = out.g @ w2.T, l2.T @ out.g, out.g.sum(0)
    l1.g = l2.g * (l1 > 0)
    inp.g, w1.g, b1.g = l1.g @ w1.T, inp.T @ l1.g, l1.g.sum(0)
    return (diff ** 2).mean()
def fb_autograd(inp, targ, w1, b1, w2, b2):
    ts = [t.detach().clone().requires_grad_() for t in (inp, w1, b1, w2, b2)]
    x, a1, c1, a2, c2 = ts
    loss = (((torch.relu(x @ a1 + c1) @ a2 + c2)[:, 0] - targ) ** 2).mean()
    loss.backward()
    for t, c in zip((inp, w1, b1, w2, b2), ts): t.g = c.grad
    return loss.detach()
def fb_no_relu(inp, targ, w1, b1, w2, b2):
    l1 = inp @ w1 + b1
    out = l1.clamp_min(0) @ w2 + b2
    diff = out[:, 0] - targ
    g = (2 * diff / len(targ))[:, None]
    l1g = g @ w2.T
    w2.g, b2.g = l1.clamp_min(0).T @ g, g.sum(0)
    inp.g, w1.g, b1.g = l1g @ w1.T, inp.T @ l1g, l1g.sum(0)
    return (diff ** 2).mean()
def fb_bias_means(inp, targ, w1, b1, w2, b2):
    loss = fb_by_hand(inp, targ, w1, b1, w2, b2)
    b1.g, b2.g = b1.g / len(inp), b2.g / len(inp)
    return loss
def fb_w2_transposed(inp, targ, w1, b1, w2, b2):
    loss = fb_by_hand(inp, targ, w1, b1, w2, b2)
    w2.g = w2.g.T
    return loss
def fb_no_loss(inp, targ, w1, b1, w2, b2): fb_by_hand(inp, targ, w1, b1, w2, b2)

# ---------------------------------------------------------------- ex04: cross entropy, sampler, optimizer

def lsm_torch(x): return x - torch.logsumexp(x, -1, keepdim=True)
def lsm_functional(x): return F.log_softmax(x, dim=-1)
def lsm_naive(x): return (x.exp() / x.exp().sum(1, keepdim=True)).log()
def lsm_softmax(x): return F.softmax(x, -1)
def lsm_dim0(x): return F.log_softmax(x, dim=0)
def lsm_no_keepdim(x):
    m = x.max(-1).values
    return x - (m + (x - m[:, None]).exp().sum(-1).log())

def nll_gather(inp, targ): return -inp.gather(1, targ[:, None]).mean()
def nll_onehot(inp, targ): return -(F.one_hot(targ, inp.shape[1]) * inp).sum(1).mean()
def nll_summed(inp, targ): return -inp[torch.arange(len(targ)), targ].sum()
def nll_no_minus(inp, targ): return inp.gather(1, targ[:, None]).mean()
def nll_block(inp, targ): return -inp[:, targ].mean()

def ce_grad_onehot(x, targ): return (F.softmax(x, 1) - F.one_hot(targ, x.shape[1])) / len(x)
def ce_grad_autograd(x, targ):
    x = x.detach().clone().requires_grad_()
    F.cross_entropy(x, targ).backward()
    return x.grad
def ce_grad_no_n(x, targ): return F.softmax(x, 1) - F.one_hot(targ, x.shape[1])
def ce_grad_log(x, targ): return (F.log_softmax(x, 1) - F.one_hot(targ, x.shape[1])) / len(x)
def ce_grad_sign(x, targ): return (F.one_hot(targ, x.shape[1]) - F.softmax(x, 1)) / len(x)

class SamplerNumpy:
    def __init__(self, n, shuffle=False, seed=None):
        self.n, self.shuffle, self.rng = n, shuffle, np.random.default_rng(seed)
    def __len__(self): return self.n
    def __iter__(self): return iter(self.rng.permutation(self.n).tolist() if self.shuffle else range(self.n))

class SamplerRandom:
    def __init__(self, n, shuffle=False, seed=None):
        self.n, self.shuffle, self.rng = n, shuffle, random.Random(seed)
    def __len__(self): return self.n
    def __iter__(self):
        idx = list(range(self.n))
        if self.shuffle: self.rng.shuffle(idx)
        yield from idx

class SamplerGlobalSeed:
    def __init__(self, n, shuffle=False, seed=None):
        self.n, self.shuffle = n, shuffle
        random.seed(seed)
    def __len__(self): return self.n
    def __iter__(self):
        idx = list(range(self.n))
        if self.shuffle: random.shuffle(idx)
        return iter(idx)

class SamplerOnce:
    def __init__(self, n, shuffle=False, seed=None):
        g = torch.Generator().manual_seed(seed or 0)
        self.order = torch.randperm(n, generator=g).tolist() if shuffle else list(range(n))
    def __len__(self): return len(self.order)
    def __iter__(self): return iter(self.order)

class SamplerWithReplacement:
    def __init__(self, n, shuffle=False, seed=None):
        self.n, self.shuffle, self.g = n, shuffle, torch.Generator().manual_seed(seed or 0)
    def __len__(self): return self.n
    def __iter__(self):
        return iter(torch.randint(0, self.n, (self.n,), generator=self.g).tolist() if self.shuffle else range(self.n))

class SamplerAlwaysShuffles(SamplerNumpy):
    def __iter__(self): return iter(self.rng.permutation(self.n).tolist())

class SGDLrInside:
    def __init__(self, params, lr, mom=0.9):
        self.params, self.lr, self.mom, self.v = list(params), lr, mom, {}
    def step(self):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                self.v[i] = self.v.get(i, torch.zeros_like(p)) * self.mom + self.lr * p.grad
                p -= self.v[i]
    def zero_grad(self):
        for p in self.params: p.grad.zero_()

class SGDData:
    def __init__(self, params, lr, mom=0.9):
        self.params, self.lr, self.mom = list(params), lr, mom
        self.state = [None] * len(self.params)
    def step(self):
        for i, p in enumerate(self.params):
            g = p.grad
            self.state[i] = g.clone() if self.state[i] is None else self.mom * self.state[i] + g
            p.data -= self.lr * self.state[i]
    def zero_grad(self):
        for p in self.params: p.grad = None

class SGDPlain(SGDData):
    def step(self):
        for p in self.params: p.data -= self.lr * p.grad

class SGDEma(SGDData):
    def step(self):
        for i, p in enumerate(self.params):
            v = torch.zeros_like(p) if self.state[i] is None else self.state[i]
            self.state[i] = self.mom * v + (1 - self.mom) * p.grad
            p.data -= self.lr * self.state[i]

class SGDKeepsGrads(SGDData):
    def zero_grad(self): self.cleared = True

class SGDNoNoGrad(SGDData):
    def step(self):
        for i, p in enumerate(self.params):
            self.state[i] = p.grad.clone() if self.state[i] is None else self.mom * self.state[i] + p.grad
            p -= self.lr * self.state[i]

class SGDUphill(SGDData):
    def step(self):
        for i, p in enumerate(self.params):
            self.state[i] = p.grad.clone() if self.state[i] is None else self.mom * self.state[i] + p.grad
            p.data += self.lr * self.state[i]

# ---------------------------------------------------------------- the table

RIGHT = {
    ex01.matmul_one_loop: [one_loop_rows, one_loop_cols],
    ex01.matmul_no_loop: [no_loop_unsqueeze, no_loop_ellipsis, no_loop_bt],
    ex01.broadcast_shape: [bs_zip_longest, bs_numpy],
    ex01.batched_matmul: [bmm_ellipsis, bmm_letters],
    ex02.layer_std: [std_power, std_torch],
    ex02.init_kaiming: [kaiming_normal_, kaiming_torch_normal, kaiming_uniform],
    ex02.mse: [mse_functional, mse_manual, mse_column_targ, fully_connected.mse],
    ex02.normalize: [norm_population, norm_by_hand],
    ex03.mse_grad: [mse_grad_column, mse_grad_view, mse_grad_autograd],
    ex03.relu_grad: [relu_grad_out, relu_grad_where, relu_grad_clone],
    ex03.lin_grad: [lin_grad_einsum, lin_grad_outer],
    ex03.forward_and_backward: [fb_by_hand, fb_autograd],
    ex04.log_softmax: [lsm_torch, lsm_functional],
    ex04.nll: [nll_gather, nll_onehot],
    ex04.cross_entropy_grad: [ce_grad_onehot, ce_grad_autograd],
    ex04.sampler: [SamplerNumpy, SamplerRandom],
    ex04.sgd_momentum: [SGDLrInside, SGDData],
}

WRONG = {
    ex01.matmul_one_loop: [(one_loop_two_loops, "your code has 2 loops"), (one_loop_uses_at, "your code uses `@`"),
                           (one_loop_transposed, "your result is transposed"), (one_loop_row_broadcast, "wrong broadcast"),
                           (one_loop_in_place, "you modified the input `a` in place")],
    ex01.matmul_no_loop: [(no_loop_loop, "your code has 1 loop; the exercise asks for no loop"),
                          (no_loop_wrong_axis, "summed over the wrong axis"), (no_loop_einsum, "your code uses `einsum`"),
                          (no_loop_b_transposed, "multiplied a by the transpose of b")],
    ex01.broadcast_shape: [(bs_left, "lined the shapes up from the left"), (bs_unchecked, "without checking that the sizes fit"),
                           (bs_zip_short, "dropped the leading dimensions"), (bs_runtime_error, "expected ValueError, but your code raised RuntimeError")],
    ex01.batched_matmul: [(bmm_at, "asks for `torch.einsum`"), (bmm_transposed, "each matrix of your result is transposed"),
                          (bmm_batch_summed, "you summed over the batch"), (bmm_bt, "contracted a's columns with b's columns")],
    ex02.layer_std: [(std_variance, "that is the variance"), (std_linear, "it is the *variance* that grows like n_in"),
                     (std_divided, "you divided by sqrt(n_in)")],
    ex02.init_kaiming: [(kaiming_transposed, "your weights are transposed"), (kaiming_lecun, "LeCun/Xavier"),
                        (kaiming_unseeded, "not reproducible with the same seed"), (kaiming_fan_out, "you used n_out")],
    ex02.mse: [(mse_broadcast, "wrong broadcast"), (mse_summed, "off by the batch size"), (mse_root, "RMSE")],
    ex02.normalize: [(norm_own_stats, "normalized the validation set with its own mean and std"),
                     (norm_in_place, "you modified the input `x_train` in place"), (norm_per_column, "per-column statistics"),
                     (norm_variance, "divided by the variance")],
    ex03.mse_grad: [(mse_grad_no_n, "off by the batch size"), (mse_grad_no_2, "factor 2"),
                    (mse_grad_returned, "you returned the gradient instead of storing it"), (mse_grad_broadcast, "wrong broadcast")],
    ex03.relu_grad: [(relu_grad_unmasked, "passed `out.g` through everywhere"), (relu_grad_no_chain, "forgot the chain rule"),
                     (relu_grad_inverted, "your mask is inverted"), (relu_grad_in_place, "you modified the input `out` (or its gradient `.g`) in place")],
    ex03.lin_grad: [(lin_grad_no_bias, "you forgot the bias gradient"), (lin_grad_bias_mean, "averaged the bias gradient over the batch"),
                    (lin_grad_w_transposed, "w.g is transposed"), (lin_grad_w_over_n, "off by the batch size")],
    ex03.forward_and_backward: [(fb_no_relu, "skipped the ReLU's backward step"), (fb_bias_means, "averaged over the batch where a sum was needed"),
                                (fb_w2_transposed, "w2.g: your result is transposed"), (fb_no_loss, "loss: not set")],
    ex04.log_softmax: [(lsm_naive, "overflows"), (lsm_softmax, "returned the softmax itself"), (lsm_dim0, "normalized over the batch (dim 0)"),
                       (lsm_no_keepdim, "wrong broadcast")],
    ex04.nll: [(nll_summed, "off by the batch size"), (nll_no_minus, "wrong sign"), (nll_block, "(an (n, n) block)")],
    ex04.cross_entropy_grad: [(ce_grad_no_n, "off by the batch size"), (ce_grad_log, "used log_softmax where the softmax belongs"),
                              (ce_grad_sign, "wrong sign")],
    ex04.sampler: [(SamplerGlobalSeed, "not reproducible with the same seed"), (SamplerOnce, "every epoch has the same order"),
                   (SamplerWithReplacement, "indices repeat or are missing"), (SamplerAlwaysShuffles, "with shuffle=False the indices must come in order")],
    ex04.sgd_momentum: [(SGDPlain, "that is plain SGD"), (SGDEma, "exponential moving average"), (SGDKeepsGrads, "left the gradients in place"),
                        (SGDNoNoGrad, "torch.no_grad()"), (SGDUphill, "wrong sign")],
}

def test_every_exercise_is_covered():
    assert set(RIGHT) == set(ALL) and set(WRONG) == set(ALL)
    assert all(len(v) >= 2 for v in RIGHT.values()) and all(len(v) >= 3 for v in WRONG.values())
    assert [len(g) for g in (ex01, ex02, ex03, ex04)] == [4, 4, 4, 5]

def _id(v): return getattr(v, "name", None) or getattr(v, "__name__", None)

@pytest.mark.parametrize("ex, f", [(e, e._solution) for e in ALL] + [(e, f) for e in ALL for f in RIGHT[e]], ids=_id)
def test_accepts_right_answers(ex, f):
    fb = ex.check(f)
    assert fb.status == "pass", str(fb)
    assert "correct! It passed all" in str(fb)

@pytest.mark.parametrize("ex, f, diagnosis", [(e, f, d) for e in ALL for f, d in WRONG[e]], ids=_id)
def test_rejects_wrong_answers_with_diagnosis(ex, f, diagnosis):
    fb = ex.check(f)
    assert fb.status == "fail", str(fb)
    assert diagnosis in str(fb), str(fb)

@pytest.mark.parametrize("ex", ALL, ids=_id)
def test_empty_answer_is_not_implemented_yet(ex):
    if ex.signature.startswith("class"):
        class Empty:
            def __init__(self, *args, **kwargs): ...
            def step(self): ...
        todo = [ex.check(Empty), ex.check(type("Bare", (), {}))]
    else:
        def empty(*args): ...
        def passes(*args):
            "A docstring only."
            pass
        def raises(*args): raise NotImplementedError
        todo = [ex.check(empty), ex.check(passes), ex.check(raises)]
    for fb in todo:
        assert fb.status == "todo" and "not implemented yet" in str(fb), str(fb)

@pytest.mark.parametrize("ex", [e for e in ALL if not e.signature.startswith("class")], ids=_id)
def test_none_from_a_written_body_is_not_implemented_yet(ex):
    def forgot_return(*args): x = args[0]
    fb = ex.check(forgot_return)
    assert fb.status == "todo" and "not implemented yet" in str(fb) and "did you forget `return`" in str(fb), str(fb)

@pytest.mark.parametrize("ex", ALL, ids=_id)
def test_hints_escalate(ex):
    ex.hints_shown = 0
    first, second, third = ex.hint(), ex.hint(), ex.hint()
    assert first.title.startswith(f"Hint 1 of {len(ex.hints)} for {ex.name}")
    assert second.body != first.body and "(the last one" in second.title and third.body == second.body
    ex.hints_shown = 0

@pytest.mark.parametrize("ex", ALL, ids=_id)
def test_solution_is_source_that_passes(ex):
    sol = ex.solution()
    assert sol.code and sol.body.startswith(ex.signature.split("(")[0].rstrip(":"))
    assert f"```python\n{sol.body}\n```" in sol._repr_markdown_() and str(sol).startswith("A solution of")
    ns = {"torch": torch, "math": math}
    exec(sol.body, ns)
    assert ex.check(ns[ex.fn_name]).passed

def test_diagnosis_is_deterministic_and_shows_the_smallest_input():
    a, b = str(ex03.lin_grad.check(lin_grad_no_bias)), str(ex03.lin_grad.check(lin_grad_no_bias))
    assert a == b
    assert "b = tensor([0.])  # shape (1,)" in a and "Right: inp.g, w.g; wrong: b.g." in a

def test_exception_in_learner_code_is_one_line():
    def crashes(a, b):
        c = a + 1
        return c / None
    fb = ex01.matmul_one_loop.check(crashes)
    assert fb.status == "fail" and "TypeError: unsupported operand" in str(fb)
    assert "(line 3 of your `crashes`: `return c / None`)" in str(fb)

def test_not_a_function():
    fb = ex02.mse.check(3.0)
    assert fb.status == "fail" and "pass your function itself" in str(fb)

def test_feedback_renders_markdown_and_text():
    fb = ex03.lin_grad.check(lin_grad_bias_mean)
    md = fb._repr_markdown_()
    assert md.startswith("**✗ `ex03.lin_grad`: not right yet.**") and "```\ninp = tensor(" in md
    assert str(fb).startswith("✗ ex03.lin_grad: not right yet.\n  The smallest input that fails:\n    inp = tensor(")
    with pytest.raises(ValueError, match="status must be"): Feedback("x", "ok", "")

def test_exercise_needs_a_hint():
    with pytest.raises(ValueError, match="at least one hint"):
        Exercise("x", "t", "def my_x(a):", abs, "abs", None, [], abs)
