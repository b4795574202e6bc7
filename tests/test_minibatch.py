"""Property-based tests of `foundations.minibatch`.

- The loader guarantees training relies on: a shuffled `DataLoader` yields every sample exactly once per epoch, in an
  order that changes per epoch and is reproducible from a seed; the last partial batch is kept unless `drop_last`; the
  fast path (slices of one permutation) gives exactly the batches of the general path; a validation loader from
  `get_dls` never shuffles; the worker processes end however an epoch ends; bad arguments are clear errors.
- `logsumexp`, `log_softmax`, `nll`, `cross_entropy` and `CrossEntropy` against PyTorch on random logits from tiny
  (1e-30) to huge (1e4) scales, and for every integer label dtype (uint8 labels are not a mask).
- `fit`: both steps train and agree; it stops with a clear message when a run diverges; every argument of the wrong
  kind is a TypeError naming it. `train_mnist` checks its arguments before loading any data, and trains.
"""
import gc
import multiprocessing

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from foundations import minibatch as mb
from foundations.data import MNIST_FILE, MNISTError, data_dir

torch.set_num_threads(1)

def toy_ds(n: int, d: int = 3) -> mb.Dataset:
    "A dataset whose label is the item's own index, so the batches say which items they hold."
    return mb.Dataset(torch.arange(n * d, dtype=torch.float32).view(n, d), torch.arange(n))

# ---- samplers and loaders -------------------------------------------------------------------------------------------

@settings(max_examples=60)
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

@settings(max_examples=40)
@given(n=st.integers(1, 200), bs=st.integers(1, 50), drop_last=st.booleans(), shuffle=st.booleans(),
       seed=st.integers(0, 2**31))
def test_fast_path_gives_the_batches_of_the_general_path(n, bs, drop_last, shuffle, seed):
    fast = mb.DataLoader(toy_ds(n), bs, shuffle=shuffle, drop_last=drop_last, seed=seed, collate_fn=None)
    slow = mb.DataLoader(toy_ds(n), bs, shuffle=shuffle, drop_last=drop_last, seed=seed, collate_fn=mb.collate)
    for _ in range(2):
        a, b = list(fast), list(slow)
        assert len(a) == len(b) == len(fast)
        for (xa, ya), (xb, yb) in zip(a, b): assert torch.equal(xa, xb) and torch.equal(ya, yb)

@settings(max_examples=40)
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

@settings(max_examples=40)
@given(n=st.integers(1, 300), bs=st.integers(1, 80), seed=st.integers(0, 2**31))
def test_validation_loader_never_shuffles(n, bs, seed):
    _, valid_dl = mb.get_dls(toy_ds(n), toy_ds(n), bs, seed=seed)
    for _ in range(2):
        assert torch.cat([y for _, y in valid_dl]).tolist() == list(range(n))
    assert list(mb.DataLoader(toy_ds(n), bs, seed=seed).batch_sampler.sampler) == list(range(n))

@pytest.mark.parametrize("make", [lambda bs: mb.DataLoader(toy_ds(5), bs), lambda bs: mb.BatchSampler(mb.Sampler(5), bs),
                                  lambda bs: mb.get_dls(toy_ds(5), toy_ds(5), bs)], ids=["DataLoader", "BatchSampler", "get_dls"])
@pytest.mark.parametrize("bs, error", [(0, ValueError), (-3, ValueError), (True, TypeError), (2.0, TypeError), ("4", TypeError)])
def test_bad_batch_size_is_a_clear_error(make, bs, error):
    with pytest.raises(error, match="batch_size must be an integer >= 1"):
        make(bs)

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_workers=-1), ValueError, "num_workers must be an integer >= 0"),
    (dict(num_workers=1.0), TypeError, "num_workers must be an integer"),
    (dict(collate_fn="stack"), TypeError, "collate_fn must be a function or None"),
    (dict(seed="1"), TypeError, "seed must be an integer"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0")])
def test_bad_loader_arguments_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message): mb.DataLoader(toy_ds(5), 2, **kwargs)

@pytest.mark.parametrize("make", [lambda: mb.DataLoader(toy_ds(0), 4), lambda: mb.Sampler(0),
                                  lambda: mb.get_dls(toy_ds(0), toy_ds(3))])
def test_empty_dataset_is_a_clear_error(make):
    with pytest.raises(ValueError, match="the dataset is empty"): make()

def workers_loader(n=203, **kw):
    return mb.DataLoader(toy_ds(n), 16, shuffle=True, seed=1, collate_fn=None, num_workers=2, **kw)

def test_multiprocessing_loader_matches_and_terminates():
    a = [y for _, y in mb.DataLoader(toy_ds(203), 16, shuffle=True, seed=1, collate_fn=None)]
    b = [y for _, y in workers_loader()]
    assert len(a) == len(b) and all(torch.equal(p, q) for p, q in zip(a, b))
    it = iter(workers_loader())
    next(it); it.close()                                            # abandoning an epoch ends its workers
    assert multiprocessing.active_children() == []

def test_workers_end_on_break_exception_and_garbage_collection():
    for _ in workers_loader(): break                                 # break after the first batch
    assert multiprocessing.active_children() == []
    with pytest.raises(KeyError):
        for _ in workers_loader(): raise KeyError("the training step failed")
    assert multiprocessing.active_children() == []
    it = iter(workers_loader()); next(it); next(it)
    del it; gc.collect()                                             # dropped half-way, never closed explicitly
    assert multiprocessing.active_children() == []

def test_worker_error_is_raised_in_the_main_process():
    ds = mb.Dataset(torch.zeros(10, 2), [0] * 9 + ["not a number"])
    with pytest.raises(RuntimeError, match="a worker failed to fetch batch 1"):
        list(mb.DataLoader(ds, 5, num_workers=2))
    assert multiprocessing.active_children() == []

# ---- logsumexp, log_softmax, nll, cross_entropy, CrossEntropy --------------------------------------------------------

SCALES = [1e-30, 1e-3, 1.0, 30.0, 100.0, 1e4]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]

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

@settings(max_examples=200)
@given(logits())
def test_logsumexp_and_log_softmax_match_torch(xy):
    x, _ = xy
    close(mb.logsumexp(x), torch.logsumexp(x, -1), x)
    close(mb.logsumexp(x.T, dim=0), torch.logsumexp(x.T, 0), x)
    close(mb.log_softmax(x), F.log_softmax(x, -1), x)

@settings(max_examples=200)
@given(logits(), st.sampled_from(INT_DTYPES))
def test_cross_entropy_and_nll_match_torch_for_every_integer_dtype(xy, dtype):
    x, y = xy
    close(mb.cross_entropy(x, y.to(dtype)), F.cross_entropy(x, y), x)
    close(mb.nll(F.log_softmax(x, -1), y.to(dtype)), F.nll_loss(F.log_softmax(x, -1), y), x)

@pytest.mark.parametrize("dtype", INT_DTYPES + [torch.uint16, torch.uint32, torch.uint64])
def test_byte_labels_are_indices_not_a_mask(dtype):
    # batch size == number of classes and no label 0: a uint8 index tensor used as a mask fits the shapes
    x = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([3, 1, 2, 1])
    ref = F.cross_entropy(x, y)
    assert torch.allclose(mb.cross_entropy(x, y.to(dtype)), ref, atol=1e-12)
    ce = mb.CrossEntropy()
    xg = x.clone()
    assert torch.allclose(ce(xg, y.to(dtype)), ref, atol=1e-12)
    ce.backward()
    xa = x.clone().requires_grad_(); F.cross_entropy(xa, y).backward()
    assert torch.allclose(xg.g, xa.grad, atol=1e-12)

@pytest.mark.parametrize("targ, error, message", [
    (torch.tensor([0., 1.]), TypeError, "integer class indices"),
    (torch.tensor([True, False]), TypeError, "got torch.bool"),
    (torch.eye(3, dtype=torch.long)[:2], ValueError, r"expected targ of shape \(2,\)"),
    (torch.tensor([0, 3]), ValueError, r"\[0, 2\] for 3 classes, got 0..3"),
    (torch.tensor([-1, 0]), ValueError, r"\[0, 2\]"),
    ([0, 1], TypeError, "targ must be a tensor")])
@pytest.mark.parametrize("f", [mb.cross_entropy, lambda x, t: mb.nll(mb.log_softmax(x), t), mb.CrossEntropy()],
                         ids=["cross_entropy", "nll", "CrossEntropy"])
def test_bad_labels_are_refused(f, targ, error, message):
    with pytest.raises(error, match=message): f(torch.zeros(2, 3), targ)

@pytest.mark.parametrize("call, error, message", [
    (lambda: mb.nll(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), ValueError, "0 rows"),
    (lambda: mb.nll(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long)), TypeError, "floating point"),
    (lambda: mb.nll([[0.0]], torch.zeros(1, dtype=torch.long)), TypeError, "inp must be a tensor"),
    (lambda: mb.logsumexp(torch.zeros(2, 0)), ValueError, "empty"),
    (lambda: mb.logsumexp(torch.zeros(2, 3), dim=1.0), TypeError, "dim must be an integer"),
    (lambda: mb.cross_entropy(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long)), TypeError, "floating point"),
    (lambda: mb.accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), ValueError, "empty"),
    (lambda: mb.accuracy([[0.0]], torch.zeros(1)), TypeError, "out must be a tensor")])
def test_bad_inputs_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message): call()

@settings(max_examples=60)
@given(logits())
def test_cross_entropy_module_gradient_matches_autograd(xy):
    x, y = xy
    x = x.double()
    ce = mb.CrossEntropy()
    ce(x, y); ce.backward()
    xa = x.clone().requires_grad_()
    F.cross_entropy(xa, y).backward()
    assert torch.allclose(x.g, xa.grad, atol=1e-12)
    assert torch.allclose(x.g.sum(1), torch.zeros(len(y), dtype=x.dtype), atol=1e-12)   # every row sums to zero

def test_logsumexp_infinite_rows():
    inf = float("inf")
    out = mb.logsumexp(torch.tensor([[-inf, -inf], [inf, 0.0], [-inf, 1.0]]))
    assert out.tolist() == [-inf, inf, 1.0]

# ---- fit ------------------------------------------------------------------------------------------------------------

def small_problem(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    y = (x[:, :4].argmax(1))                                        # a learnable 4-class rule
    k = n * 3 // 4
    return mb.Dataset(x[:k], y[:k]), mb.Dataset(x[k:], y[k:])

def small_net(): return nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 4))

def test_fit_stops_on_nan_before_updating():
    train_ds, valid_ds = small_problem()
    train_ds.x[70, 3] = float("nan")                                # in the second batch of 64
    train_dl, valid_dl = mb.DataLoader(train_ds, 64, collate_fn=None), mb.DataLoader(valid_ds, 64, collate_fn=None)
    model = small_net()
    opt = mb.Optimizer(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"training loss became nan in batch 2 of 3 at epoch 1"):
        mb.fit(2, model, F.cross_entropy, opt, train_dl, valid_dl, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the nan never reached the weights
    assert opt.lr == 0.1

@pytest.mark.parametrize("lr", [1e3, 1e6, 1e30])
def test_fit_diverging_lr_is_caught(lr):
    train_ds, valid_ds = small_problem()
    dls = mb.get_dls(train_ds, valid_ds, 16, seed=0)
    model = small_net()
    with pytest.raises(FloatingPointError, match="the run diverged"):
        mb.fit(5, model, F.cross_entropy, mb.Optimizer(model.parameters(), lr=lr), *dls, progress=False)

def test_fit_non_finite_validation_loss_is_caught():
    # training stays finite; the validation data overflow the logits: the run must not "finish normally"
    train_ds, valid_ds = small_problem()
    valid_ds.x[0] = float("inf")
    dls = mb.get_dls(train_ds, valid_ds, 32, seed=0)
    model = small_net()
    with pytest.raises(FloatingPointError, match="the validation loss became (nan|inf)"):
        mb.fit(1, model, F.cross_entropy, mb.Optimizer(model.parameters(), lr=0.1), *dls, progress=False)

@pytest.mark.parametrize("hand_written", [False, True])
def test_fit_learns_and_returns_history(hand_written, capsys):
    train_ds, valid_ds = small_problem(2048)
    dls = mb.get_dls(train_ds, valid_ds, 32, seed=0)
    model, step = mb.get_model(20, 16, 4, seed=0, hand_written=hand_written)
    opt = mb.Optimizer(model.parameters(), lr=0.3)
    hist = mb.fit(3, model, mb.cross_entropy, opt, *dls, step=step, lr_sched=mb.warmup_linear)
    assert hist["epoch"] == [1, 2, 3] and len(hist["batch_loss"]) == 3 * len(dls[0])
    assert hist["valid_acc"][-1] > 0.8 and hist["train_loss"][-1] < hist["train_loss"][0]
    assert opt.lr == 0.3                                            # the schedule leaves the optimizer as it was
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["epoch", "train_loss", "valid_loss", "valid_acc", "seconds"]
    assert [int(line.split()[0]) for line in out.splitlines()[1:]] == [1, 2, 3]

def test_hand_written_and_autograd_steps_agree():
    train_ds, valid_ds = small_problem(512)
    hists = []
    for hand_written in (False, True):
        model, step = mb.get_model(20, 16, 4, seed=1, hand_written=hand_written)
        hists.append(mb.fit(2, model, mb.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.2),
                            *mb.get_dls(train_ds, valid_ds, 32, seed=1), step=step, progress=False))
    assert torch.allclose(torch.tensor(hists[0]["batch_loss"]), torch.tensor(hists[1]["batch_loss"]), atol=1e-4)

def test_hand_and_autograd_models_start_equal():
    (ma, sa), (mh, sh) = mb.get_model(seed=7), mb.get_model(seed=7, hand_written=True)
    x = torch.randn(5, 784)
    with torch.no_grad(): assert torch.allclose(sa.predict(ma, x), sh.predict(mh, x), atol=1e-5)
    assert isinstance(sa, mb.AutogradStep) and isinstance(sh, mb.HandStep)

def fit_args():
    train_ds, valid_ds = small_problem()
    model = small_net()
    return dict(epochs=1, model=model, loss_func=F.cross_entropy, opt=mb.Optimizer(model.parameters(), lr=0.1),
                train_dl=mb.DataLoader(train_ds, 32), valid_dl=mb.DataLoader(valid_ds, 32))

@pytest.mark.parametrize("change, error, message", [
    (lambda a: a.update(loss_func=a["opt"], opt=a["loss_func"]), TypeError, "loss_func must be a function"),
    (lambda a: a.update(model=a["loss_func"], loss_func=a["model"]), TypeError, "model must be a model"),
    (lambda a: a.update(opt=a["loss_func"]), TypeError, "opt must be an optimizer"),
    (lambda a: a.update(train_dl=a["train_dl"].ds), TypeError, "train_dl must be a data loader"),
    (lambda a: a.update(valid_dl=torch.zeros(3)), TypeError, "valid_dl must be a data loader"),
    (lambda a: a.update(valid_dl=[]), ValueError, "valid_dl has no batches"),
    (lambda a: a.update(train_dl=mb.DataLoader(toy_ds(3), 5, drop_last=True)), ValueError, "train_dl has no batches"),
    (lambda a: a.update(epochs=0), ValueError, "epochs must be an integer >= 1"),
    (lambda a: a.update(epochs="3"), TypeError, "epochs must be an integer"),
    (lambda a: a.update(step="hand"), TypeError, "step must be"),
    (lambda a: a.update(lr_sched=0.5), TypeError, "lr_sched must be a function"),
    (lambda a: a.update(progress="yes"), TypeError, "progress must be True or False")])
def test_fit_wrong_arguments_are_clear_errors(change, error, message):
    args = fit_args()
    change(args)
    with pytest.raises(error, match=message): mb.fit(**args)

@pytest.mark.parametrize("call, error, message", [
    (lambda: mb.Optimizer(nn.Linear(2, 2)), TypeError, "params must be an iterable of tensors"),
    (lambda: mb.Optimizer([]), ValueError, "no parameters"),
    (lambda: mb.Optimizer([1.0, 2.0]), TypeError, "every parameter must be a tensor"),
    (lambda: mb.Optimizer(nn.Linear(2, 2).parameters(), lr=float("nan")), ValueError, "lr must be finite and > 0"),
    (lambda: mb.Optimizer(nn.Linear(2, 2).parameters(), lr="0.1"), TypeError, "lr must be a number"),
    (lambda: mb.Optimizer(nn.Linear(2, 2).parameters()).step(), RuntimeError, "call backward"),
    (lambda: mb.Dataset(torch.zeros(3, 2), torch.zeros(4)), ValueError, "same length"),
    (lambda: mb.Dataset(torch.zeros(3, 2), 3), TypeError, "y must be a tensor"),
    (lambda: mb.get_model(nh=0), ValueError, "nh must be an integer >= 1"),
    (lambda: mb.get_model(hand_written="yes"), TypeError, "hand_written must be True or False"),
    (lambda: mb.warmup_linear(2.0), ValueError, r"in \[0, 1\]")])
def test_other_bad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message): call()

# ---- train_mnist ----------------------------------------------------------------------------------------------------

needs_mnist = pytest.mark.skipif(not (data_dir() / MNIST_FILE).exists(), reason="MNIST is not in the data folder")

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lr=float("inf")), ValueError, "lr must be finite and > 0, got inf"),
    (dict(lr=0), ValueError, "lr must be finite and > 0"),
    (dict(lr=float("nan")), ValueError, "lr must be finite and > 0"),
    (dict(epochs=0), ValueError, "epochs must be an integer >= 1"),
    (dict(epochs=2.5), TypeError, "epochs must be an integer"),
    (dict(bs=0), ValueError, "bs must be an integer >= 1"),
    (dict(workers=-1), ValueError, "workers must be an integer >= 0"),
    (dict(threads=0), ValueError, "threads must be an integer >= 1"),
    (dict(seed=-2), ValueError, "seed must be an integer >= 0"),
    (dict(hand_written=1), TypeError, "hand_written must be True or False"),
    (dict(progress=None), TypeError, "progress must be True or False"),
    (dict(data_dir=3), TypeError, "data_dir must be a folder path")])
def test_train_mnist_checks_arguments_before_loading(kwargs, error, message, monkeypatch):
    def no_loading(*a, **k): raise AssertionError("get_mnist was called before the arguments were checked")
    monkeypatch.setattr(mb, "get_mnist", no_loading)
    with pytest.raises(error, match=message): mb.train_mnist(**kwargs)

def test_train_mnist_bad_data_is_an_mnist_error(tmp_path):
    (tmp_path / MNIST_FILE).write_bytes(b"not a gzip file")         # a corrupt file: no download is attempted
    threads = torch.get_num_threads()
    with pytest.raises(MNISTError): mb.train_mnist(epochs=1, data_dir=str(tmp_path), progress=False)
    assert torch.get_num_threads() == threads                       # the thread count is restored
    assert (tmp_path / MNIST_FILE).read_bytes() == b"not a gzip file"

@needs_mnist
@pytest.mark.parametrize("hand_written", [False, True])
def test_train_mnist_one_epoch(hand_written, capsys):
    hist = mb.train_mnist(epochs=1, hand_written=hand_written)
    out = capsys.readouterr().out
    assert out.startswith("train_mnist: 784-50-10 net") and ("our backward pass" in out) == hand_written
    assert len(hist["valid_acc"]) == len(hist["seconds"]) == 1 and hist["valid_acc"][0] > 0.95
