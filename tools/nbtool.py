"""Developer helper for the course notebooks (not part of the library).

    python tools/nbtool.py topy   nbs/01_matmul.ipynb  scratch/01.py   # notebook -> percent-format text
    python tools/nbtool.py frompy scratch/01.py  nbs/01_matmul.ipynb   # text -> notebook (outputs dropped)
    python tools/nbtool.py run    nbs/01_matmul.ipynb [--flags cuda]   # execute in place, keep outputs
    python tools/nbtool.py show   nbs/01_matmul.ipynb                  # print cells with their text outputs

Text format: cells start with a line `# %%` (code) or `# %% [markdown]` (markdown, written as plain text),
optionally followed by `id=<cell id>`; `frompy` keeps those ids and gives new cells a fresh one, so that
`nbdev_export` (which names cells by id in the library) stays stable.
`run` executes every code cell in a fresh kernel the way `nbdev_test` does (cells carrying one of the
settings.ini `tst_flags` are skipped unless named in --flags), stops at the first error, saves the outputs and
then cleans the notebook with `nbdev_clean`.
"""
import argparse, json, os, re, subprocess, sys, time, uuid
from pathlib import Path

def topy(src, dest):
    nb = json.loads(Path(src).read_text())
    out = []
    for c in nb['cells']:
        s = ''.join(c['source'])
        head = '# %% [markdown]' if c['cell_type'] == 'markdown' else '# %%'
        if c.get('id'): head += f" id={c['id']}"
        out.append(head + '\n' + s.rstrip('\n') + '\n')
    Path(dest).write_text('\n'.join(out))

def frompy(src, dest):
    cells, cur = [], None
    for line in Path(src).read_text().splitlines(keepends=True):
        if line.startswith('# %%'):
            m = re.search(r'id=(\S+)', line)
            cur = {'cell_type': 'markdown' if '[markdown]' in line else 'code', 'lines': [],
                   'id': m.group(1) if m else uuid.uuid4().hex[:8]}
            cells.append(cur)
        elif cur is not None: cur['lines'].append(line)
    nbcells = []
    for c in cells:
        text = ''.join(c['lines']).strip('\n')
        src_lines = text.splitlines(keepends=True)
        cell = {'cell_type': c['cell_type'], 'id': c['id'], 'metadata': {}, 'source': src_lines}
        if c['cell_type'] == 'code': cell.update(execution_count=None, outputs=[])
        nbcells.append(cell)
    nb = {'cells': nbcells, 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    Path(dest).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def show(path, dest=None):
    "Print every cell with its text outputs (images as a size), to review a run notebook as text."
    nb = json.loads(Path(path).read_text())
    for i, c in enumerate(nb['cells']):
        print(f"--- [{i}] {c['cell_type']}"); print(''.join(c['source']))
        for o in c.get('outputs', []):
            if o['output_type'] == 'stream': print('>>', ''.join(o['text']).rstrip())
            elif o['output_type'] == 'error': print('!! ERROR', o['ename'], o['evalue'])
            else:
                d = o.get('data', {})
                if 'image/png' in d: print(f'>> [png {len(d["image/png"]) * 3 // 4 // 1024} KB]')
                elif 'text/plain' in d: print('>>', ''.join(d['text/plain']).rstrip())

def run(path, flags='', timing=0):
    from execnb.shell import CaptureShell
    from execnb.nbio import read_nb, write_nb
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    path = Path(path).absolute()
    skip = set(get_config().tst_flags.split()) - set(flags.split())
    nb = read_nb(path)
    # nbdev's processor parses the `#|` directives; use it to decide which cells to skip, then run the raw notebook
    proc = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    skipped = {i for i, c in enumerate(proc.cells)
               if c.cell_type == 'code' and (skip & set((getattr(c, 'directives_', {}) or {}).keys())
                                             or (c.directives_ or {}).get('eval:', [''])[0].lower() == 'false')}
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    shell = CaptureShell(path, mpl_format='png')
    start = time.time()
    cwd = os.getcwd(); os.chdir(path.parent)
    times = {}
    def pre(c):
        if c.cell_type != 'code' or c.idx_ in skipped: return True
        times[c.idx_] = time.time()
    def post(c):
        if c.idx_ in times: times[c.idx_] = time.time() - times[c.idx_]
    try:
        shell.run_all(nb, exc_stop=True, preproc=pre, postproc=post)
    finally:
        os.chdir(cwd)
        write_nb(nb, path)
    print(f'{path.name}: ran in {time.time() - start:.1f}s, skipped {len(skipped)} flagged cells')
    if timing:
        for i, t in sorted(times.items(), key=lambda o: -o[1])[:timing]:
            print(f'  cell {i:3}: {t:6.2f}s  {nb.cells[i].source.splitlines()[0][:70] if nb.cells[i].source else ""}')
    subprocess.run(['nbdev_clean', '--fname', str(path)], check=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('cmd', choices=['topy', 'frompy', 'run', 'show'])
    p.add_argument('src'); p.add_argument('dest', nargs='?')
    p.add_argument('--flags', default='', help='test flags to run anyway (run only)')
    p.add_argument('--timing', type=int, default=0, help='print the N slowest cells (run only)')
    a = p.parse_args()
    if a.cmd == 'run': run(a.src, a.flags, a.timing)
    else: globals()[a.cmd](a.src, a.dest)
