"""The MNIST download path of `foundations.data`, against a real HTTP server on 127.0.0.1.

The server is started by the tests and serves small MNIST-format files made here; nothing touches the internet.
Each failure must raise `MNISTError` with a useful message and leave the data folder exactly as it was. The cache of
decoded arrays must be used, rebuilt when stale or corrupt, never half-written, and skipped when it cannot be written.
"""
import gzip, io, os, pickle, socket, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from foundations import data
from foundations.data import MNISTError, download_mnist, get_mnist, load_mnist_file, validate_mnist


def make_parts(n=(20, 6, 4), seed=0):
    "Three small (x, y) pairs in the layout of mnist.pkl.gz."
    rng = np.random.default_rng(seed)
    return tuple((rng.integers(0, 256, (k, 784)).astype(np.float32) / 256, rng.integers(0, 10, k).astype(np.int64))
                 for k in n)

def gz_pickle(obj, protocol=2) -> bytes:
    return gzip.compress(pickle.dumps(obj, protocol=protocol))

GOOD = make_parts()
GOOD_BYTES = gz_pickle(GOOD)
ROUTES = {
    "/good.pkl.gz": GOOD_BYTES,
    "/truncated.pkl.gz": GOOD_BYTES[: len(GOOD_BYTES) // 2],              # served whole, but the file itself is cut
    "/notgzip.pkl.gz": b"<html>this is an error page, not a gzip file</html>",
    "/wronglayout.pkl.gz": gz_pickle(tuple((x[:, :700], y) for x, y in GOOD)),
    "/twoparts.pkl.gz": gz_pickle(GOOD[:2]),
    "/labels.pkl.gz": gz_pickle(tuple((x, y + 5) for x, y in GOOD)),
    "/evil.pkl.gz": gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR."),  # a pickle that would run a shell command
}

class Handler(BaseHTTPRequestHandler):
    hits = []
    def log_message(self, *a): pass
    def do_GET(self):
        Handler.hits.append(self.path)
        if self.path == "/dropped.pkl.gz":  # promise the whole file, send half, hang up
            self.send_response(200); self.send_header("Content-Length", str(len(GOOD_BYTES))); self.end_headers()
            self.wfile.write(GOOD_BYTES[: len(GOOD_BYTES) // 3]); self.wfile.flush()
            self.close_connection = True
            return
        body = ROUTES.get(self.path)
        if body is None: return self.send_error(404, "Not Found")
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown(); srv.server_close()

@pytest.fixture
def refused_url():
    "A URL on a port where nothing listens."
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    return f"http://127.0.0.1:{port}/mnist.pkl.gz"

def files_in(folder): return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    "Every test gets its own empty per-user cache folder and no FOUNDATIONS_DATA, so none sees another's cache."
    cache = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("FOUNDATIONS_DATA", raising=False)
    return cache / "foundations"


def test_good_download_then_cached(server, tmp_path, refused_url):
    out = get_mnist(tmp_path, url=server + "/good.pkl.gz", progress=False)
    assert [tuple(t.shape) for t in out] == [(20, 784), (20,), (6, 784), (6,)]
    assert out[0].dtype == torch.float32 and out[1].dtype == torch.int64
    assert torch.equal(out[0], torch.from_numpy(GOOD[0][0]))
    assert files_in(tmp_path) == ["mnist.pkl.gz"]                   # the final file only, no temporary left
    assert (tmp_path / "mnist.pkl.gz").read_bytes() == GOOD_BYTES
    # second call: read from disk, never from the network (the URL would be refused)
    again = get_mnist(tmp_path, url=refused_url)
    assert all(torch.equal(a, b) for a, b in zip(out, again))
    x_test = get_mnist(tmp_path, url=refused_url, with_test=True)[4]
    assert x_test.shape == (4, 784)

def test_env_var_picks_the_folder(server, tmp_path, monkeypatch):
    (tmp_path / "mnist-here").mkdir()
    monkeypatch.setenv("FOUNDATIONS_DATA", str(tmp_path / "mnist-here"))
    assert data.data_dir() == tmp_path / "mnist-here"
    get_mnist(url=server + "/good.pkl.gz", progress=False)
    assert files_in(tmp_path / "mnist-here") == ["mnist.pkl.gz"]

def test_default_folder_is_created(server, own_cache):
    assert not own_cache.exists()
    get_mnist(url=server + "/good.pkl.gz", progress=False)
    assert (own_cache / "mnist.pkl.gz").read_bytes() == GOOD_BYTES

class SpyBar:
    "Stands in for fastprogress's progress_bar and records the totals and values it is given."
    made = []
    def __init__(self, gen, total=None, comment=""): self.total, self.comment, self.values = total, comment, []; SpyBar.made.append(self)
    def update(self, v): self.values.append(v)

def test_progress_bar(server, tmp_path, monkeypatch):
    "The download drives fastprogress's bar, in kB, from 0 to the whole file."
    import fastprogress.fastprogress as fp
    monkeypatch.setattr(fp, "progress_bar", SpyBar); SpyBar.made.clear()
    get_mnist(tmp_path, url=server + "/good.pkl.gz", progress=True)
    (bar,) = SpyBar.made
    kb = -(-len(GOOD_BYTES) // 1000)
    assert bar.total == kb and bar.values[0] == 0 and bar.values[-1] == kb and "kB" in bar.comment
    SpyBar.made.clear()
    get_mnist(tmp_path / "..", url=server + "/good.pkl.gz", progress=False)   # another folder: downloads again
    assert SpyBar.made == []

@pytest.mark.parametrize("route, message", [
    ("/truncated.pkl.gz", "truncated or corrupt"),
    ("/notgzip.pkl.gz", "truncated or corrupt"),
    ("/wronglayout.pkl.gz", "x has shape (20, 700), expected (n, 784)"),
    ("/twoparts.pkl.gz", "expected a tuple of 3 (x, y) pairs"),
    ("/labels.pkl.gz", "expected digits 0..9"),
    ("/evil.pkl.gz", "refusing to load"),
    ("/dropped.pkl.gz", "transfer broke off"),
    ("/missing.pkl.gz", "HTTP 404"),
])
def test_bad_downloads_leave_nothing(server, tmp_path, route, message):
    with pytest.raises(MNISTError) as e: get_mnist(tmp_path, url=server + route, progress=False)
    msg = str(e.value)
    assert message in msg
    assert str(tmp_path / "mnist.pkl.gz") in msg and "curl -L -o" in msg   # where it belongs, how to put it there
    assert files_in(tmp_path) == []                                        # no partial or temporary file

def test_refused_connection(tmp_path, refused_url):
    with pytest.raises(MNISTError, match="could not reach the server") as e: get_mnist(tmp_path, url=refused_url)
    assert "are you offline?" in str(e.value) and "FOUNDATIONS_DATA" in str(e.value)
    assert files_in(tmp_path) == []

def test_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    "Ctrl-C in the middle of the transfer: the temporary file is removed, the error passes through."
    import fastprogress.fastprogress as fp
    class Interrupt(SpyBar):
        def update(self, v):
            if v: raise KeyboardInterrupt
    monkeypatch.setattr(fp, "progress_bar", Interrupt)
    with pytest.raises(KeyboardInterrupt): get_mnist(tmp_path, url=server + "/good.pkl.gz", progress=True)
    assert files_in(tmp_path) == []

def test_temporary_file_is_in_the_data_folder(server, tmp_path, monkeypatch):
    "The download goes to a temporary file beside the destination, renamed into place only when validated."
    seen = []
    real_read = data._read_mnist
    def spy(fname, where):
        seen.append((fname, files_in(tmp_path)))
        return real_read(fname, where)
    monkeypatch.setattr(data, "_read_mnist", spy)
    get_mnist(tmp_path, url=server + "/good.pkl.gz", progress=False)
    (validated, listing), = seen
    assert validated.parent == tmp_path and validated.name != "mnist.pkl.gz" and validated.name.endswith(".part")
    assert "mnist.pkl.gz" not in listing                                   # not in place before validation

def test_corrupt_existing_file_is_reported_not_deleted(tmp_path, refused_url):
    bad = tmp_path / "mnist.pkl.gz"; bad.write_bytes(GOOD_BYTES[:100])
    with pytest.raises(MNISTError, match="truncated or corrupt"): get_mnist(tmp_path, url=refused_url)
    assert bad.read_bytes() == GOOD_BYTES[:100]                              # left for the user to inspect

def test_good_file_survives_a_failed_download(server, tmp_path):
    "download_mnist over an existing good file: a failure must not touch it."
    good = tmp_path / "mnist.pkl.gz"; good.write_bytes(GOOD_BYTES)
    with pytest.raises(MNISTError): download_mnist(good, url=server + "/dropped.pkl.gz", progress=False)
    assert good.read_bytes() == GOOD_BYTES and files_in(tmp_path) == ["mnist.pkl.gz"]

def test_no_download_when_asked(tmp_path):
    with pytest.raises(MNISTError, match="download=False"): get_mnist(tmp_path, download=False)

def test_unwritable_default_folder(tmp_path, server, monkeypatch):
    blocker = tmp_path / "file"; blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))                       # the default folder cannot be made
    with pytest.raises(MNISTError, match="cannot create the default data folder .*set FOUNDATIONS_DATA"):
        get_mnist(url=server + "/good.pkl.gz", progress=False)


# ---- data location mistakes (issue 12): say what was expected and where; never create a folder the user named ----

def test_env_var_pointing_at_the_file(tmp_path, monkeypatch, refused_url):
    (tmp_path / "mnist.pkl.gz").write_bytes(GOOD_BYTES)
    monkeypatch.setenv("FOUNDATIONS_DATA", str(tmp_path / "mnist.pkl.gz"))
    with pytest.raises(MNISTError) as e: get_mnist(url=refused_url)
    msg = str(e.value)
    assert "FOUNDATIONS_DATA=" in msg and "points at a file, not a folder" in msg
    assert f"set FOUNDATIONS_DATA to the folder that holds mnist.pkl.gz, e.g. {tmp_path}" in msg
    assert "File exists" not in msg

def test_folder_argument_pointing_at_the_file(tmp_path, refused_url):
    (tmp_path / "mnist.pkl.gz").write_bytes(GOOD_BYTES)
    with pytest.raises(MNISTError, match=f"pass the folder that holds mnist.pkl.gz, e.g. {tmp_path}"):
        get_mnist(tmp_path / "mnist.pkl.gz", url=refused_url)

@pytest.mark.parametrize("via_env", [False, True])
def test_mistyped_folder_is_an_error_not_a_new_folder(tmp_path, monkeypatch, server, via_env):
    typo = tmp_path / "mnsit"
    if via_env: monkeypatch.setenv("FOUNDATIONS_DATA", str(typo))
    with pytest.raises(MNISTError) as e: get_mnist(None if via_env else typo, url=server + "/good.pkl.gz", progress=False)
    assert "which does not exist" in str(e.value) and f"mkdir -p '{typo}'" in str(e.value)
    assert ("FOUNDATIONS_DATA=" in str(e.value)) == via_env
    assert not typo.exists()

def test_mistyped_folder_downloads_nothing(tmp_path, server):
    Handler.hits.clear()
    with pytest.raises(MNISTError): get_mnist(tmp_path / "nope", url=server + "/good.pkl.gz", progress=False)
    assert Handler.hits == [] and not (tmp_path / "nope").exists()

def test_load_mnist_file_on_a_folder(tmp_path):
    with pytest.raises(MNISTError, match="is a folder, not an mnist.pkl.gz file; pass the file"): load_mnist_file(tmp_path)

@pytest.mark.parametrize("dest,msg", [("x/mnist.pkl.gz", "the folder .* does not exist; create it first"),
                                      (".", "is a folder; pass the file's path")])
def test_download_mnist_destination_mistakes(tmp_path, refused_url, dest, msg):
    with pytest.raises(MNISTError, match=msg): download_mnist(tmp_path / dest, url=refused_url)
    assert files_in(tmp_path) == []

@pytest.mark.parametrize("kwargs,msg", [({"folder": 3}, "folder must be a path"), ({"download": "no"}, "download must be True or False"),
                                        ({"with_test": 1}, "with_test must be True or False"), ({"cache": None}, "cache must be True or False")])
def test_get_mnist_argument_types(tmp_path, kwargs, msg):
    with pytest.raises(TypeError, match=msg): get_mnist(**{"folder": tmp_path, **kwargs})


# ---- the cache of decoded arrays (issue 14) ----

@pytest.fixture
def good_file(tmp_path):
    f = tmp_path / "mnist.pkl.gz"; f.write_bytes(GOOD_BYTES)
    return f

@pytest.fixture
def reads(monkeypatch):
    "Counts the reads of the pickle itself."
    calls = []
    real = data._read_mnist
    monkeypatch.setattr(data, "_read_mnist", lambda fname, where: calls.append(fname) or real(fname, where))
    return calls

def same(a, b): return all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)

def test_cache_is_used(good_file, reads, refused_url):
    first = get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 1 and (data._cache_path(good_file) / "manifest.json").exists()
    again = get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 1 and same(first, again)                          # the second load never read the pickle
    assert same(again, [torch.from_numpy(a) for pair in GOOD[:2] for a in pair])

def test_test_split_not_decoded_unless_asked(good_file, monkeypatch, refused_url):
    get_mnist(good_file.parent, url=refused_url)                           # builds the cache
    loaded = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda f, **kw: loaded.append(os.path.basename(f)) or real(f, **kw))
    assert len(get_mnist(good_file.parent, url=refused_url)) == 4
    assert loaded and not any(name.startswith("test_") for name in loaded)
    out = get_mnist(good_file.parent, url=refused_url, with_test=True)
    assert len(out) == 6 and torch.equal(out[4], torch.from_numpy(GOOD[2][0]))
    assert len(load_mnist_file(good_file, with_test=False)) == 2 and len(load_mnist_file(good_file)) == 3

def test_cache_rebuilt_when_stale(good_file, reads, refused_url):
    get_mnist(good_file.parent, url=refused_url)
    other = make_parts(seed=1)
    good_file.write_bytes(gz_pickle(other))                                  # the source changed
    out = get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 2 and same(out, [torch.from_numpy(a) for pair in other[:2] for a in pair])
    st = good_file.stat(); os.utime(good_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # touched only
    get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 3
    get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 3                                                   # and the rebuilt cache is used

@pytest.mark.parametrize("damage", [
    lambda d: (d / "train_x.npy").write_bytes((d / "train_x.npy").read_bytes()[:500]),        # cut short
    lambda d: (d / "train_y.npy").unlink(),                                                     # missing
    lambda d: (d / "manifest.json").write_text("{not json"),                                   # garbled manifest
    lambda d: np.save(d / "train_y.npy", np.full(20, 11, np.int64)),                          # same size, bad labels
    lambda d: np.save(d / "valid_x.npy", np.zeros((6, 784), np.float64)[:, :392]),            # wrong dtype and shape
])
def test_cache_rebuilt_when_corrupt(good_file, reads, refused_url, damage):
    first = get_mnist(good_file.parent, url=refused_url)
    damage(data._cache_path(good_file))
    again = get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 2 and same(first, again)                          # read the pickle again: right answer
    get_mnist(good_file.parent, url=refused_url)
    assert len(reads) == 2                                                   # and the cache was repaired

def test_cache_never_half_written(good_file, monkeypatch, refused_url, own_cache):
    "Interrupted in the middle of writing the cache: no cache folder, no temporary folder, and the next load works."
    real, n = np.save, []
    def save(f, a, **kw):
        n.append(1)
        if len(n) == 3: raise KeyboardInterrupt
        return real(f, a, **kw)
    monkeypatch.setattr(np, "save", save)
    with pytest.raises(KeyboardInterrupt): get_mnist(good_file.parent, url=refused_url)
    root = data._cache_path(good_file).parent
    assert files_in(root) == []
    monkeypatch.setattr(np, "save", real)
    assert len(get_mnist(good_file.parent, url=refused_url)) == 4
    assert files_in(root) == [data._cache_path(good_file).name]
    assert sorted(files_in(data._cache_path(good_file))) == sorted(
        ["manifest.json"] + [f"{s}_{k}.npy" for s in ("train", "valid", "test") for k in "xy"])

def test_cache_replaced_atomically(good_file, refused_url):
    "A rebuild over an existing cache leaves exactly one complete cache folder."
    get_mnist(good_file.parent, url=refused_url)
    good_file.write_bytes(gz_pickle(make_parts(seed=2)))
    get_mnist(good_file.parent, url=refused_url)
    root = data._cache_path(good_file).parent
    assert files_in(root) == [data._cache_path(good_file).name]

def test_unwritable_cache_loads_without_caching(good_file, reads, monkeypatch, tmp_path, refused_url):
    blocker = tmp_path / "blocker"; blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2): assert same(get_mnist(good_file.parent, url=refused_url),
                                   [torch.from_numpy(a) for pair in GOOD[:2] for a in pair])
    assert len(reads) == 2                                                   # no cache, no failure

def test_cache_off(good_file, reads, refused_url):
    for _ in range(2): get_mnist(good_file.parent, url=refused_url, cache=False)
    assert len(reads) == 2 and not data._cache_path(good_file).exists()

def test_corrupt_pickle_with_an_old_cache_still_fails(good_file, refused_url):
    "A cache never hides a broken source file: it is stale as soon as the file changes."
    get_mnist(good_file.parent, url=refused_url)
    good_file.write_bytes(GOOD_BYTES[:100])
    with pytest.raises(MNISTError, match="truncated or corrupt"): get_mnist(good_file.parent, url=refused_url)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_reads_any_pickle_protocol(tmp_path, protocol):
    f = tmp_path / "m.pkl.gz"; f.write_bytes(gz_pickle(GOOD, protocol))
    parts = load_mnist_file(f)
    assert all(np.array_equal(a, b) for pa, pb in zip(parts, GOOD) for a, b in zip(pa, pb))

@pytest.mark.parametrize("change, message", [
    (lambda p: ((p[0][0].astype(np.float64), p[0][1]),) + p[1:], "dtype float64, expected float32"),
    (lambda p: ((p[0][0], p[0][1].astype(np.int32)),) + p[1:], "dtype int32, expected int64"),
    (lambda p: ((p[0][0] * 255, p[0][1]),) + p[1:], "expected values in [0, 1]"),
    (lambda p: ((p[0][0], p[0][1][:5]),) + p[1:], "y has shape (5,), expected (20,)"),
    (lambda p: ((p[0][0][:0], p[0][1][:0]),) + p[1:], "with n > 0"),
    (lambda p: (p[0], p[1], p[2][0]), "the test part is not an (x, y) pair"),
    (lambda p: list(p[:2]), "got list of length 2"),
])
def test_validation_messages(change, message):
    with pytest.raises(MNISTError) as e: validate_mnist(change(GOOD))
    assert message in str(e.value)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda p: download_mnist(p / "mnist.pkl.gz", timeout=0), ValueError, "timeout must be a positive finite number"),
    (lambda p: download_mnist(p / "mnist.pkl.gz", timeout=float("inf")), ValueError, "timeout must be a positive finite"),
    (lambda p: download_mnist(p / "mnist.pkl.gz", timeout="60"), ValueError, "timeout must be a positive finite"),
    (lambda p: download_mnist(p / "mnist.pkl.gz", url=b"http://x"), TypeError, "url must be a string, got bytes"),
    (lambda p: download_mnist(None), TypeError, "dest must be a path, got NoneType"),
    (lambda p: load_mnist_file(None), TypeError, "fname must be a path (str or Path), got NoneType"),
    (lambda p: get_mnist(p, url=None), TypeError, "get_mnist: url must be a string"),
])
def test_argument_mistakes(tmp_path, call, exc, msg):
    with pytest.raises(exc) as e: call(tmp_path)
    assert msg in str(e.value)
    assert files_in(tmp_path) == []
