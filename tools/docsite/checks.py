"""The docs invariants, each checked here once (`tools/docs.py check`, the site build and the tests call these):

- the sidebar lists every notebook of `nbs/` once, the home page first, the numbered notebooks in course order;
- every function and class a notebook's module exports (its `__all__`, read by importing it) has an API entry
  (a `show_doc` cell in nbdev's processed notebook);
- the cells nbdev runs to make the docs (export cells and cells with an import) need no variable of another cell.
"""
import ast, builtins, importlib, json, re
from pathlib import Path

from .cells import text
from .config import NBS, sidebar_pages

def missing_notebooks(cfg: dict, nbs: Path | None = None) -> list[str]:
    "Notebooks the sidebar lists that are not (yet) in `nbs/`: the build skips them with a warning."
    nbs = nbs or NBS
    return [f for _, f in sidebar_pages(cfg) if f.endswith('.ipynb') and not (nbs / f).exists()]

def sidebar_problems(cfg: dict, nbs: Path | None = None) -> list[str]:
    "What is wrong with the sidebar's list of pages (empty when it lists every notebook once, in course order)."
    nbs = nbs or NBS
    listed = [f for _, f in sidebar_pages(cfg)]
    on_disk = sorted(p.name for p in nbs.glob('*.ipynb'))
    errors = [f'sidebar.yml lists {f} {listed.count(f)} times' for f in sorted({f for f in listed if listed.count(f) > 1})]
    errors += [f'{f} is not in nbs/sidebar.yml: add it in course order' for f in on_disk if f not in listed]
    if listed and listed[0] != 'index.ipynb': errors.append('sidebar.yml: the home page index.ipynb must come first')
    numbered = [f for f in listed if re.match(r'\d', f)]
    if numbered != sorted(numbered): errors.append(f'sidebar.yml: the numbered notebooks are not in course order: {numbered}')
    return errors

def exported_names(module: str) -> list[str]:
    "The module's `__all__`, by importing it."
    return list(importlib.import_module(module).__all__)

def documented_names(module: str) -> list[str]:
    "The exported names that need an API entry: functions and classes (constants are documented in the prose)."
    mod = importlib.import_module(module)
    return [n for n in exported_names(module) if callable(getattr(mod, n, None))]

def module_of(nb_path: Path, lib: str = 'foundations') -> str | None:
    "The library module a notebook exports to (its `#| default_exp`), as an import name."
    cells = json.loads(Path(nb_path).read_text())['cells']
    src = '\n'.join(text(c.get('source')) for c in cells if c['cell_type'] == 'code')
    m = re.search(r'^#\|\s*default_exp\s+(\S+)', src, re.M)
    return f'{lib}.{m.group(1)}' if m else None

def api_problems(nb_path: Path, proc_nb: Path, lib: str = 'foundations') -> list[str]:
    "Exported functions and classes of the notebook's module that have no `show_doc` entry in the processed notebook."
    module = module_of(nb_path, lib)
    if not module: return []
    try: names = documented_names(module)
    except Exception as e: return [f'{nb_path.name}: cannot import {module} to read its __all__: {e!r}']
    cells = json.loads(Path(proc_nb).read_text())['cells']
    shown = {m.group(1) for c in cells if c['cell_type'] == 'code'
             for m in re.finditer(r'show_doc\(\s*([\w.]+)', text(c.get('source')))}
    return [f'{nb_path.name}: exported `{n}` has no API entry (show_doc)' for n in names if n not in shown]

_EXPORT = re.compile(r'^#\|\s*(export|exports|exporti|exec_doc)\b', re.M)
_NO_EVAL = re.compile(r'^#\|\s*eval:\s*false\b', re.M | re.I)

def _bound(tree, args=True) -> set[str]:
    "Names code binds: assignments, loop and `with` targets, imports, definitions, `except ... as` (and arguments)."
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)): out |= {(a.asname or a.name).split('.')[0] for a in n.names}
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)): out.add(n.id)
        elif isinstance(n, ast.arg) and args: out.add(n.arg)
        elif isinstance(n, ast.ExceptHandler) and n.name: out.add(n.name)
    return out

def docs_exec_problems(nb_path: Path) -> list[str]:
    """Cells that nbdev runs to make the docs but that need variables of cells it does not run.
    To render `show_doc`, nbdev's docs processing executes only the export cells and every cell that contains an
    import (unless `#| eval: false`); such a cell using a name made by an ordinary cell fails the docs build. Found
    statically (names a cell's top-level statements read that neither it, an earlier executed cell nor Python binds)."""
    known, errors = set(dir(builtins)) | {'show_doc', 'get_ipython', 'display'}, []
    for i, c in enumerate(json.loads(Path(nb_path).read_text())['cells']):
        src = text(c.get('source'))
        if c['cell_type'] != 'code' or _NO_EVAL.search(src): continue
        code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('#|', '%', '!')))
        try: tree = ast.parse(code)
        except SyntaxError: continue
        has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
        if not (_EXPORT.search(src) or has_import): continue
        if any(isinstance(n, ast.ImportFrom) and any(a.name == '*' for a in n.names) for n in ast.walk(tree)): return errors
        bound = _bound(tree)
        top = {n.id for st in tree.body if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        missing = sorted(top - bound - known)
        if missing:
            first = code.strip().splitlines()[0][:60] if code.strip() else ''
            errors.append(f'{Path(nb_path).name}: cell {i} (id {c.get("id")}, "{first}") has an import, so nbdev runs it to '
                          f'make the docs, but it uses {", ".join(missing)} from cells nbdev does not run: move its '
                          f'imports into a cell of their own')
        known |= _bound(tree, args=False)  # what later cells see (a function's arguments stay inside it)
    return errors
