"""README.md as a learner reads it: every Python block runs as shown, in order, in one fresh Python process started
outside the repository (so nothing but the blocks' own imports is in scope), and prints what the README shows.

Blocks whose shown output holds no timing must print it exactly; blocks with timings must print the same rows (same
first word on each line). The speed-ladder table must agree with itself: each variant's time divided by the time of
`torch @` on the same size lies within the range of its per-round ratios to `torch @` (with 10% for rounding), and so
does its median ratio (or, where no range is shown, the two agree within 2x).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MARK = "@@README-BLOCK@@"
TIME = re.compile(r"(\d[\d,]*\.?\d*)\s*(ns|µs|us|ms|s)\b")
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def python_blocks(text: str) -> list[tuple[str, str]]:
    "The ```python blocks of a README, each with the output shown under it (its 4-space-indented block, or '')."
    found = []
    for m in re.finditer(r"^```python\n(.*?)^```\n", text, re.S | re.M):
        rest = text[m.end():].lstrip("\n")
        shown = []
        for line in rest.splitlines():
            if line.startswith("    ") or (line == "" and shown): shown.append(line[4:])
            else: break
        found.append((m.group(1), "\n".join(shown).strip("\n")))
    return found


BLOCKS = python_blocks(README)


def _has_timing(shown: str) -> bool:
    return bool(TIME.search(shown)) or "seconds" in shown or "GFLOP" in shown


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3, "README.md should show how to use the library in Python blocks"
    assert sum("from foundations" in code for code, _ in BLOCKS) >= 3, "each example imports what it uses"


def _data_available() -> bool:
    folder = os.environ.get("FOUNDATIONS_DATA")
    if folder: return (Path(folder) / "mnist.pkl.gz").exists()
    return (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "foundations" / "mnist.pkl.gz").exists()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    "Run all the blocks, in order, as one script in a fresh Python; return what each printed."
    if not _data_available():
        if os.environ.get("CI"): pytest.fail("MNIST is not available: set FOUNDATIONS_DATA")
        pytest.skip("set FOUNDATIONS_DATA to the folder with mnist.pkl.gz")
    script = "\n".join(f"print({MARK!r}, flush=True)\n{code}" for code, _ in BLOCKS)
    cwd = tmp_path_factory.mktemp("readme")
    (cwd / "readme_blocks.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IN_TEST")}
    r = subprocess.run([sys.executable, "readme_blocks.py"], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, f"a README block failed:\n{r.stderr[-4000:]}"
    assert "Traceback" not in r.stderr
    printed = r.stdout.split(MARK + "\n")[1:]
    assert len(printed) == len(BLOCKS)
    return [p.strip("\n") for p in printed]


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_prints_what_the_readme_shows(i, outputs):
    code, shown = BLOCKS[i]
    got = outputs[i]
    if not shown: return
    if not _has_timing(shown):
        assert got == shown, f"block {i + 1}:\n{code}\nREADME shows:\n{shown}\nit prints:\n{got}"
    else:   # timings differ from run to run: the same rows, in the same order
        firsts = lambda s: [l.split()[0] for l in s.splitlines() if l.strip()]
        assert firsts(got) == firsts(shown), f"block {i + 1}:\nREADME shows:\n{shown}\nit prints:\n{got}"


def _seconds(s: str) -> float:
    n, u = TIME.search(s).groups()
    return float(n.replace(",", "")) * UNIT[u]


def test_speed_ladder_figures_agree_with_each_other():
    "Each row's 'x torch @' ratio and its time over torch @'s time at the same size agree with its range of ratios."
    ladder = [shown for code, shown in BLOCKS if "format_bench" in code]
    assert len(ladder) == 1, "README.md should show one speed-ladder table printed by format_bench"
    rows = [l for l in ladder[0].splitlines() if re.search(r"\d+x\d+x\d+", l) and "skipped" not in l]
    torch_time = {re.search(r"\d+x\d+x\d+", l).group(): _seconds(l) for l in rows if l.startswith("torch @")}
    assert torch_time, ladder[0]
    checked = 0
    for l in rows:
        if l.startswith("torch @"): continue
        size = re.search(r"\d+x\d+x\d+", l).group()
        after_size = l[l.index(size) + len(size):]
        ratios = [float(x.replace(",", "")) for x in re.findall(r"(\d[\d,]*\.?\d*)x\b", after_size)]
        ratio, of_medians = ratios[0], _seconds(after_size) / torch_time[size]
        if len(ratios) >= 3:   # a range of the per-round ratios is shown: both figures must lie in it
            lo, hi = ratios[1:3]
            assert lo <= ratio <= hi, f"{l!r}: ratio {ratio} outside its range {lo}-{hi}"
            assert lo / 1.1 <= of_medians <= hi * 1.1, \
                f"{l!r}: its time / torch's time is {of_medians:.3g}, outside the range of its ratios {lo}-{hi}"
        else:
            assert 0.5 <= ratio / of_medians <= 2, f"{l!r}: ratio {ratio} but its time / torch's is {of_medians:.3g}"
        checked += 1
    assert checked >= 3
