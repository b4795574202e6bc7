"""Property-based tests of `foundations.minibatch`.

- The loader guarantees training relies on: a shuffled `DataLoader` yields every sample exactly once per epoch, in an
  order that changes per epoch and is reproducible from a seed; the last partial batch is kept unless `drop_last`; a
  validation loader from `get_dls` never shuffles; an empty dataset or a batch size < 1 is a clear error.
- `logsumexp`, `log_softmax` and `cross_entropy` against PyTorch on random logits from tiny (1e-30) to huge (1e4) scales.
- `fit` stops with a clear message when the loss becomes nan, before the update; `foundations_train` on a short run.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from foundations import minibatch as mb
from foundations.data import MNIST_FILE, data_dir

torch.set_num_threads(1)

def toy_ds(n: int, d: int = 3) -> mb.Dataset:
    "A dataset whose label is the item's own index, so the batches say which items they hold."
    return mb.Dataset(torch.arange(n * d, dtype=torch.float32).view(n, d), torch.arange(n))

# ---- samplers and loaders -------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), bs=st.integers(1, 80), drop_last=st.booleans(), seed=st.integers(0, 2**31),
       whole_batches=st.booleans())
def test_shuffled_loader_yields_every_sample_once(n, bs, drop_last, seed, whole_batches):
    dl = mb.DataLoader(toy_ds(n), bs, shuffle=True, drop_last=drop_last, seed=seed,
                       collate_fn=None if whole_batches else mb.collate)
    for _ in range(2):                                              # two epochs
        batches = list(dl)
        ys = torch.cat([yb for _, yb in batches]) if batches else torch.zeros(0, dtype=torch.long)
        sizes = [len(yb) for _, yb in batches]
        assert len(batches) == len(dl)
        for xb, yb in batches: assert torch.equal(xb, toy_ds(n).x[yb])      # x and y stay paired
        assert len(set(ys.tolist())) == len(ys)                     # no sample twice
        if drop_last:
            assert sizes == [bs] * (n // bs)
        else:
            assert sorted(ys.tolist()) == list(range(n))            # every sample, exactly once
            assert sizes == [bs] * (n // bs) + ([n % bs] if n % bs else [])

@settings(max_examples=40, deadline=None)
@given(n=st.integers(20, 500), seed=st.integers(0, 2**31))
def test_order_changes_per_epoch_and_is_reproducible(n, seed):
    s1, s2 = mb.Sampler(n, shuffle=True, seed=seed), mb.Sampler(n, shuffle=True, seed=seed)
    e1, e2, e3 = list(s1), list(s1), list(s1)
    assert e1 != e2 and e2 != e3                                    # a new order every epoch (20! orders)
    assert [list(s2), list(s2), list(s2)] == [e1, e2, e3]           # same seed, same sequence of orders
    assert list(mb.Sampler(n, shuffle=True, seed=seed + 1)) != e1
    dl1 = mb.DataLoader(toy_ds(n), 7, shuffle=True, seed=seed)
    dl2 = mb.DataLoader(toy_ds(n), 7, shuffle=True, seed=seed)
    for _ in range(2):
        assert torch.equal(torch.cat([y for _, y in dl1]), torch.cat([y for _, y in dl2]))

def test_seed_none_follows_torch_manual_seed():
    torch.manual_seed(3); a = list(mb.Sampler(50, shuffle=True))
    torch.manual_seed(3); b = list(mb.Sampler(50, shuffle=True))
    assert a == b

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), bs=st.integers(1, 80), seed=st.integers(0, 2**31))
def test_validation_loader_never_shuffles(n, bs, seed):
    _, valid_dl = mb.get_dls(toy_ds(n), toy_ds(n), bs, seed=seed)
    for _ in range(2):
        assert torch.cat([y for _, y in valid_dl]).tolist() == list(range(n))
    assert list(mb.DataLoader(toy_ds(n), bs, seed=seed).batch_sampler.sampler) == list(range(n))

@given(bs=st.one_of(st.integers(-5, 0), st.just(True), st.floats(0.5, 10)))
def test_bad_batch_size_is_a_clear_error(bs):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        mb.DataLoader(toy_ds(5), bs)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        mb.BatchSampler(mb.Sampler(5), bs)

def test_empty_dataset_is_a_clear_error():
    for make in (lambda: mb.DataLoader(toy_ds(0), 4), lambda: mb.Sampler(0), lambda: mb.get_dls(toy_ds(0), toy_ds(3))):
        with pytest.raises(ValueError, match="the dataset is empty"): make()

def test_multiprocessing_loader_matches_and_terminates():
    import multiprocessing
    ds = toy_ds(203)
    a = [y for _, y in mb.DataLoader(ds, 16, shuffle=True, seed=1, collate_fn=None)]
    b = [y for _, y in mb.DataLoader(ds, 16, shuffle=True, seed=1, collate_fn=None, num_workers=2)]
    assert all(torch.equal(p, q) for p, q in zip(a, b)) and len(a) == len(b)
    it = iter(mb.DataLoader(ds, 16, num_workers=2))
    next(it); it.close()                                            # abandoning an epoch ends its workers
    assert multiprocessing.active_children() == []

# ---- logsumexp, log_softmax, cross_entropy --------------------------------------------------------------------------

SCALES = [1e-30, 1e-3, 1.0, 30.0, 100.0, 1e4]

@st.composite
def logits(draw):
    n, c = draw(st.integers(1, 8)), draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    scale = draw(st.sampled_from(SCALES))
    shift = draw(st.sampled_from([0.0, scale, -scale, 5e3]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    x = (torch.randn(n, c, generator=g, dtype=torch.float64) * scale + shift).to(dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return x, y

def close(ours, ref, x):
    "Agree to a few float32 (or float64) ulps of the largest magnitude involved."
    eps = torch.finfo(x.dtype).eps
    tol = 8 * eps * max(1.0, ref.abs().max().item(), x.abs().max().item())
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert torch.isfinite(ours).all(), f"not finite: {ours}"
    assert (ours - ref).abs().max().item() <= tol, f"max error {(ours - ref).abs().max().item()} > {tol}"

@settings(max_examples=200, deadline=None)
@given(logits())
def test_logsumexp_and_log_softmax_match_torch(xy):
    x, _ = xy
    close(mb.logsumexp(x), torch.logsumexp(x, -1), x)
    close(mb.logsumexp(x.T, dim=0), torch.logsumexp(x.T, 0), x)
    close(mb.log_softmax(x), F.log_softmax(x, -1), x)

@settings(max_examples=200, deadline=None)
@given(logits())
def test_cross_entropy_and_nll_match_torch(xy):
    x, y = xy
    close(mb.cross_entropy(x, y), F.cross_entropy(x, y), x)
    close(mb.nll(F.log_softmax(x, -1), y), F.nll_loss(F.log_softmax(x, -1), y), x)

@settings(max_examples=60, deadline=None)
@given(logits())
def test_cross_entropy_module_gradient_matches_autograd(xy):
    x, y = xy
    x = x.double()
    ce = mb.CrossEntropy()
    ce(x, y); ce.backward()
    xa = x.clone().requires_grad_()
    F.cross_entropy(xa, y).backward()
    assert torch.allclose(x.g, xa.grad, atol=1e-12)

def test_logsumexp_infinite_rows_and_errors():
    inf = float("inf")
    out = mb.logsumexp(torch.tensor([[-inf, -inf], [inf, 0.0], [-inf, 1.0]]))
    assert out.tolist() == [-inf, inf, 1.0]
    with pytest.raises(ValueError, match="empty"): mb.logsumexp(torch.zeros(2, 0))
    with pytest.raises(TypeError, match="floating point"): mb.cross_entropy(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 2\]"): mb.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))

# ---- fit ------------------------------------------------------------------------------------------------------------

def small_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    y = (x[:, :4].argmax(1))                                        # a learnable 4-class rule
    k = n * 3 // 4
    return mb.Dataset(x[:k], y[:k]), mb.Dataset(x[k:], y[k:])

def test_fit_stops_on_nan_before_updating():
    train_ds, valid_ds = small_problem()
    train_ds.x[70, 3] = float("nan")                                # in the second batch of 64
    train_dl, valid_dl = mb.DataLoader(train_ds, 64, collate_fn=None), mb.DataLoader(valid_ds, 64, collate_fn=None)
    model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 4))
    opt = mb.Optimizer(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 2 of 3"):
        mb.fit(2, model, F.cross_entropy, opt, train_dl, valid_dl, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the nan never reached the weights
    assert opt.lr == 0.1

def test_fit_diverging_lr_is_caught():
    train_ds, valid_ds = small_problem()
    dls = mb.get_dls(train_ds, valid_ds, 16, seed=0)
    model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 4))
    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        mb.fit(5, model, F.cross_entropy, mb.Optimizer(model.parameters(), lr=1e6), *dls, progress=False)

@pytest.mark.parametrize("autograd", [True, False])
def test_fit_learns_and_returns_history(autograd, capsys):
    train_ds, valid_ds = small_problem(2048)
    dls = mb.get_dls(train_ds, valid_ds, 32, seed=0)
    model, opt = mb.get_model(20, 16, 4, lr=0.3, seed=0, autograd=autograd)
    hist = mb.fit(3, model, mb.cross_entropy, opt, *dls, lr_sched=mb.warmup_linear)
    assert hist["epoch"] == [1, 2, 3] and len(hist["batch_loss"]) == 3 * len(dls[0])
    assert hist["valid_acc"][-1] > 0.8 and hist["train_loss"][-1] < hist["train_loss"][0]
    assert opt.lr == 0.3                                            # the schedule leaves the optimizer as it was
    out = capsys.readouterr().out
    assert "valid_acc" in out and out.count("|##############################|") == 3

def test_hand_and_autograd_models_start_equal():
    ma, _ = mb.get_model(seed=7)
    mh, opt = mb.get_model(seed=7, autograd=False)
    x = torch.randn(5, 784)
    with torch.no_grad(): assert torch.allclose(ma(x), mh.predict(x), atol=1e-5)
    assert opt.grad_attr == "g"

# ---- the console command --------------------------------------------------------------------------------------------

needs_mnist = pytest.mark.skipif(not (data_dir() / MNIST_FILE).exists(), reason="MNIST is not in the data folder")

@needs_mnist
@pytest.mark.parametrize("flags", [[], ["--no-autograd"]])
def test_train_cli_one_epoch(flags, capsys):
    mb.train_cli(["--epochs", "1"] + flags)
    out = capsys.readouterr().out
    assert "our backward pass" in out if flags else "autograd" in out
    acc = float(out.split("final validation accuracy:")[1].split()[0])
    assert acc > 0.95

def test_train_cli_rejects_bad_options(capsys):
    for argv in (["--bs", "0"], ["--epochs", "0"], ["--lr", "-1"]):
        with pytest.raises(SystemExit) as e: mb.train_cli(argv)
        assert e.value.code == 2
    assert "--lr must be > 0" in capsys.readouterr().err

def test_train_cli_bad_data_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / MNIST_FILE).write_bytes(b"not a gzip file")         # a corrupt file: no download is attempted
    with pytest.raises(SystemExit) as e: mb.train_cli(["--data-dir", str(tmp_path), "--epochs", "1"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("foundations_train: no MNIST data:") and str(tmp_path) in err and "Traceback" not in err
    assert (tmp_path / MNIST_FILE).read_bytes() == b"not a gzip file"  # the user's file is left alone

@needs_mnist
@pytest.mark.skipif(shutil.which("foundations_train") is None, reason="the console script is not installed")
def test_console_script_runs():
    r = subprocess.run(["foundations_train", "--epochs", "1", "--quiet"], capture_output=True, text=True, timeout=300,
                       env={**os.environ})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("final validation accuracy: 0.9")
