"""The console commands `foundations_train` and `foundations_bench` (foundations.cli, nbs/06_cli.ipynb).

Every bad flag or value: exit status 2, exactly one line on stderr naming the flag, nothing on stdout, no
traceback, and refused before PyTorch and Numba are imported (so before any data is loaded or any matrix multiplied).
Run-time failures (no MNIST, a diverging run): exit status 1 and one line. `--help` answers without importing
PyTorch, Numba or NumPy. And one real short run of each command.
"""
import configparser
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numba", "numpy")

# Runs a command's entry point in a fresh Python, exactly as its console script does, and reports at exit which
# heavy modules had been imported by then.
_CHILD = ("import atexit, sys\n"
          "atexit.register(lambda: print('imported:', ','.join(m for m in {heavy!r} if m in sys.modules)))\n"
          "from foundations.cli import {main}\n"
          "{main}()\n")


def run(cmd, *args, timeout=600, cwd=None):
    "Run `cmd` (foundations_train or foundations_bench) with `args`; return (exit status, stdout, stderr, imported)."
    main = {"foundations_train": "_train_main", "foundations_bench": "_bench_main"}[cmd]
    code = _CHILD.format(heavy=HEAVY, main=main)
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       cwd=cwd)
    out, _, last = r.stdout.rpartition("imported:")
    return r.returncode, out, r.stderr, [m for m in last.strip().split(",") if m]


def script(cmd):
    "The console script that `pip install` put beside this Python."
    path = Path(sys.executable).with_name(cmd)
    assert path.exists(), f"{path} is missing: run pip install -e ."
    return str(path)


def assert_one_line_error(cmd, err, flag):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{cmd}: error: "), err
    assert flag in lines[0], (flag, err)
    assert "Traceback" not in err


# ---- bad flags and values: exit 2, one line, nothing done ----------------------------------------------------------

TRAIN_BAD = [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "1.5"), ("--epochs", "three"), ("--epochs", "nan"),
    ("--bs", "0"), ("--bs", "-64"), ("--bs", "big"),
    ("--lr", "0"), ("--lr", "-0.1"), ("--lr", "inf"), ("--lr", "-inf"), ("--lr", "nan"), ("--lr", "fast"),
    ("--seed", "-1"), ("--seed", str(2**64)), ("--seed", "x"),
    ("--workers", "-1"), ("--workers", str(10**6)), ("--workers", "two"),
    ("--threads", "0"), ("--threads", str(10**6)), ("--threads", "1.5"),
    ("--data-dir", None),          # the flag without its value
    ("--quiet", "=yes"),           # a switch given a value
    ("--bogus", "1"),              # no such flag
    ("--budget", "0.5"),           # a flag of the other command
]

BENCH_BAD = [
    ("--sizes", "0"), ("--sizes", "5x0x3"), ("--sizes", "5x784"), ("--sizes", "-3"), ("--sizes", "1x2x3x4"),
    ("--sizes", "huge"), ("--sizes", "100000"), ("--sizes", "1000000x1x1000000"), ("--sizes", None),
    ("--variants", "fast"), ("--variants", None),
    ("--dtype", "int8"), ("--dtype", "float16"),
    ("--rounds", "0"), ("--rounds", "-1"), ("--rounds", "nan"), ("--rounds", "inf"), ("--rounds", "2.5"),
    ("--rounds", str(10**6)),
    ("--threads", "0"), ("--threads", str(10**6)), ("--threads", "all"),
    ("--png", "{tmp}/no/such/folder/ladder.png"), ("--png", "{tmp}/ladder.txt"), ("--png", "{tmp}"),
    ("--png", None),
    ("--budget", "0.5"),           # the old flag: --rounds replaces it
    ("--epochs", "1"),             # a flag of the other command
]


def _argv(flag, value, tmp_path):
    if value is None: return [flag]
    if value.startswith("="): return [flag + value]
    return [flag, value.format(tmp=tmp_path)]


BAD = [("foundations_train", f, v) for f, v in TRAIN_BAD] + [("foundations_bench", f, v) for f, v in BENCH_BAD]


@pytest.mark.parametrize("cmd,flag,value", BAD)
def test_bad_values_are_refused_at_once(cmd, flag, value, tmp_path):
    status, out, err, imported = run(cmd, *_argv(flag, value, tmp_path))
    assert status == 2, (status, out, err)
    assert_one_line_error(cmd, err, flag)
    assert out == "" and not {"torch", "numba"} & set(imported), (out, imported)
    assert list(tmp_path.iterdir()) == []   # nothing written


# ---- --help answers at once ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["foundations_train", "foundations_bench"])
def test_help_answers_before_importing_torch(cmd):
    status, out, err, imported = run(cmd, "--help")
    assert status == 0 and err == "", err
    assert out.startswith(f"usage: {cmd} ") and "--threads THREADS" in out
    assert imported == [], f"--help imported {imported}: heavy imports belong inside the command's body"


def test_help_lists_the_flags():
    _, out, _, _ = run("foundations_train", "--help")
    for flag in ["--epochs", "--bs", "--lr", "--seed", "--no-autograd", "--constant-lr", "--workers", "--threads",
                 "--data-dir", "--quiet"]:
        assert f"  {flag}" in out, flag
    _, out, _, _ = run("foundations_bench", "--help")
    for flag in ["--sizes", "--variants", "--dtype", "--rounds", "--threads", "--png"]:
        assert f"  {flag}" in out, flag
    assert "--budget" not in out


def test_console_scripts_are_the_cli_module():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    scripts = dict(s.split("=") for s in cfg["DEFAULT"]["console_scripts"].split())
    assert scripts == {"foundations_train": "foundations.cli:_train_main",
                       "foundations_bench": "foundations.cli:_bench_main"}
    for cmd in scripts:   # the installed scripts call the same entry points
        r = subprocess.run([script(cmd), "--threads", "0"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stdout == ""
        assert_one_line_error(cmd, r.stderr, "--threads")


# ---- run-time failures: exit 1, one line ---------------------------------------------------------------------------

def test_train_without_data_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "mnist.pkl.gz").write_bytes(b"not a gzip file")   # a corrupt file: nothing is downloaded
    status, out, err, _ = run("foundations_train", "--data-dir", tmp_path, "--epochs", "1")
    assert status == 1, (status, out, err)
    assert_one_line_error("foundations_train", err, str(tmp_path))
    assert (tmp_path / "mnist.pkl.gz").read_bytes() == b"not a gzip file"   # the user's file is left alone


def test_train_data_dir_that_does_not_exist_is_one_line_and_exit_1(tmp_path):
    status, out, err, _ = run("foundations_train", "--data-dir", tmp_path / "no_such_folder", "--epochs", "1")
    assert status == 1, (status, out, err)
    assert_one_line_error("foundations_train", err, "no_such_folder")
    assert not (tmp_path / "no_such_folder").exists()


def test_train_data_dir_that_is_a_file_is_one_line_and_exit_1(tmp_path):
    f = tmp_path / "mnist.pkl.gz"
    f.write_bytes(gzip.compress(b"not a pickle"))
    status, out, err, _ = run("foundations_train", "--data-dir", f, "--epochs", "1")
    assert status == 1, (status, out, err)
    assert_one_line_error("foundations_train", err, str(f))


def _have_mnist():
    folder = os.environ.get("FOUNDATIONS_DATA")
    return bool(folder) and (Path(folder) / "mnist.pkl.gz").exists()


needs_mnist = pytest.mark.skipif(not _have_mnist(), reason="set FOUNDATIONS_DATA to the folder with mnist.pkl.gz")


@needs_mnist
def test_train_diverging_is_one_line_and_exit_1():
    status, out, err, _ = run("foundations_train", "--lr", "1e6", "--epochs", "1", "--quiet")
    assert status == 1, (status, out, err)
    assert_one_line_error("foundations_train", err, "foundations_train")


# ---- one real short run of each command ----------------------------------------------------------------------------

@needs_mnist
def test_train_one_epoch_with_our_backward_pass():
    r = subprocess.run([script("foundations_train"), "--epochs", "1", "--no-autograd"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("final validation accuracy: "), r.stdout
    assert float(last.split()[3]) > 0.9, last
    assert "Traceback" not in r.stderr


def test_bench_one_small_size(tmp_path):
    png = tmp_path / "ladder.png"
    r = subprocess.run([script("foundations_bench"), "--sizes", "6x20x7", "--rounds", "2", "--threads", "1",
                        "--png", png], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("torch ") and "median of 2 rounds" in lines[0], lines[0]
    from foundations.cli import _VARIANTS
    for v in _VARIANTS:
        rows = [l for l in lines if l.startswith(v + " ")]
        assert len(rows) == 1 and "6x20x7" in rows[0], (v, r.stdout)
    assert lines[-1] == f"chart saved to {png}"
    assert png.stat().st_size > 1000
