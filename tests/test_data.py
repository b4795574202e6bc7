"""The MNIST download path of `foundations.data`, against a real HTTP server on 127.0.0.1.

The server is started by the tests and serves small MNIST-format files made here; nothing touches the internet.
Each failure must raise `MNISTError` with a useful message and leave the data folder exactly as it was.
"""
import gzip, io, pickle, socket, threading
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
    monkeypatch.setenv("FOUNDATIONS_DATA", str(tmp_path / "mnist-here"))
    assert data.data_dir() == tmp_path / "mnist-here"
    get_mnist(url=server + "/good.pkl.gz", progress=False)
    assert files_in(tmp_path / "mnist-here") == ["mnist.pkl.gz"]

def test_progress_bar(server, tmp_path, capsys):
    get_mnist(tmp_path, url=server + "/good.pkl.gz", progress=True)
    err = capsys.readouterr().err
    assert "downloading MNIST [" in err and "#" * 30 in err

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
    def interrupt(done, total): raise KeyboardInterrupt
    monkeypatch.setattr(data, "_progress", interrupt)
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

def test_unwritable_folder(tmp_path, server):
    blocker = tmp_path / "file"; blocker.write_text("not a folder")
    with pytest.raises(MNISTError, match="cannot write to the data folder"):
        get_mnist(blocker / "sub", url=server + "/good.pkl.gz", progress=False)

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
