"Step 1 of the build: nbdev's own docs processing of the notebooks into `_proc/` (what `nbdev_proc_nbs` does)."
import hashlib, json, os, re, subprocess, sys
from pathlib import Path

from .config import NBS, ROOT, SiteError

PROC = ROOT / '_proc'

def _nbdev_error(err: str, out: str) -> SiteError:
    i = err.rfind('\nException: Error in notebook')
    if i >= 0:  # nbdev names the notebook and the cell; the rest is a traceback through its worker pool
        causes = re.findall(r'^(\w+(?:Error|Exception): .*)$', err[:i], re.M)
        cause = f'\n{causes[-1]}' if causes else ''
        return SiteError(f'nbdev processing failed: {err[i + 1:].strip()}{cause}\n(to run show_doc, nbdev executes only '
                         f'the cells that contain an import, so such a cell cannot use variables from other cells: '
                         f'move its imports into a cell of their own)')
    return SiteError(f'nbdev processing failed:\n{out[-3000:]}{err[-3000:]}')

def proc_nbs(only: list[str] | None = None) -> Path:
    """Run nbdev's docs processing into `_proc/`: the steps of `nbdev_proc_nbs` minus its attempt to install Quarto
    and its rewrite of `foundations/_modidx.py` (which `nbdev_export` keeps current)."""
    skip = r'^[_.]' + (r'|^(?!(?:' + '|'.join(re.escape(f) for f in only) + r')$)' if only else '')
    code = ('from nbdev.quarto import refresh_quarto_yml; from nbdev.serve import proc_nbs; refresh_quarto_yml(); '
            f'proc_nbs(n_workers=2, skip_file_re={skip!r})')
    # refresh_quarto_yml rewrites nbs/nbdev.yml from settings.ini, as nbdev_proc_nbs does. nbdev redoes a notebook
    # only when it is newer than its `_proc/` copy, so a notebook saved while nbdev was reading it would stay stale:
    # we remember what each notebook held when it was processed and drop the copy of any notebook changed since.
    record = PROC / '.site-sources.json'
    try: done = json.loads(record.read_text())
    except (OSError, ValueError): done = {}
    now = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in NBS.glob('*.ipynb') if not only or p.name in only}
    for name, h in now.items():
        if done.get(name) != h: (PROC / name).unlink(missing_ok=True)
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    if r.returncode: raise _nbdev_error(r.stderr, r.stdout)
    if PROC.is_dir():
        tmp = record.with_suffix('.tmp')
        tmp.write_text(json.dumps({**done, **now}, indent=0)); os.replace(tmp, record)
    return PROC
