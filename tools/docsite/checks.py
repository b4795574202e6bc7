"""The docs invariants, each checked here once (`tools/docs.py check`, the site build and the tests call these):

- the sidebar lists every notebook of `nbs/` once, the home page first, the numbered notebooks in course order;
- every function and class a notebook's module exports (its `__all__`, read by importing it) has an API entry
  (a `show_doc` cell in nbdev's processed notebook).
"""
import importlib, json, re
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
