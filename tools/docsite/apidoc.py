"""API reference entries rendered from the library's objects: a real signature and a parameter table.

nbdev 2.4's `show_doc` prints docments as comments inside the signature and, for a parameter without annotation,
shows the type of its default (so `x=None` reads `x:NoneType=None`). The site renders each `show_doc(name)` entry
again from the object itself: `def f(x: Tensor, n: int = 3) -> Tensor` (`class C(...)` for a class, with its
`__init__`'s parameters), the docstring, then a table with one row per parameter (type, default, its docment) and
the return value. Names that are not in the library (defined only in a notebook) keep nbdev's entry.
"""
import html, importlib, inspect, re

from fastcore.docments import docments

_MODULE_PREFIX = re.compile(r'\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)')

def fmt_annotation(a) -> str:
    "An annotation as a reader writes it: `Tensor | None`, `list[int]`, `Optional[int]` (no module paths)."
    if a is inspect.Parameter.empty: return ''
    if isinstance(a, str): s = a
    elif isinstance(a, type) and not getattr(a, '__args__', None): s = a.__qualname__
    else: s = inspect.formatannotation(a)
    return _MODULE_PREFIX.sub('', s).replace('NoneType', 'None')

def fmt_default(d) -> str:
    if d is inspect.Parameter.empty: return ''
    if inspect.isfunction(d) or inspect.isclass(d): return d.__qualname__
    return repr(d)

def _params(sig):
    return [p for p in sig.parameters.values() if p.name not in ('self', 'cls')]

def _param_str(p) -> str:
    star = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '')
    s = star + p.name
    a = fmt_annotation(p.annotation)
    if a: s += f': {a}'
    if p.default is not p.empty: s += f' = {fmt_default(p.default)}' if a else f'={fmt_default(p.default)}'
    return s

def signature_text(obj, name: str) -> str:
    "`def name(...) -> ret` or `class Name(...)`, one parameter per line when it does not fit 90 characters."
    sig = inspect.signature(obj)
    kw = 'class' if inspect.isclass(obj) else 'async def' if inspect.iscoroutinefunction(obj) else 'def'
    parts, ps = [], _params(sig)
    for i, p in enumerate(ps):  # the `*` and `/` markers of keyword-only and positional-only parameters
        if p.kind == p.KEYWORD_ONLY and (i == 0 or ps[i - 1].kind not in (p.KEYWORD_ONLY, p.VAR_POSITIONAL)): parts.append('*')
        parts.append(_param_str(p))
        if p.kind == p.POSITIONAL_ONLY and (i + 1 == len(ps) or ps[i + 1].kind != p.POSITIONAL_ONLY): parts.append('/')
    ret = '' if inspect.isclass(obj) else fmt_annotation(sig.return_annotation)
    tail = f' -> {ret}' if ret else ''
    one = f'{kw} {name}({", ".join(parts)}){tail}'
    if len(one) <= 90 or not parts: return one
    return f'{kw} {name}(\n' + ''.join(f'    {s},\n' for s in parts) + f'){tail}'

def _cell(s: str) -> str: return s.replace('|', r'\|').replace('\n', ' ').strip()

def _code(s: str) -> str:
    "Inline code for a table cell: raw HTML, because pandoc keeps the backslash of `\\|` inside a code span."
    return f'<code>{html.escape(s).replace("|", "&#124;")}</code>' if s else ''

def param_table(obj) -> str:
    "A markdown table: one row per parameter (type, default, docment) and the return value."
    sig = inspect.signature(obj)
    try: dm = docments(obj, full=True)
    except Exception: dm = {}
    rows = []
    for p in _params(sig):
        star = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '')
        typ = fmt_annotation(p.annotation)
        if not typ and p.default not in (p.empty, None): typ = type(p.default).__name__
        doc = (dm.get(p.name) or {}).get('docment') or ''
        rows.append([_code(star + p.name), _code(typ), _code(fmt_default(p.default)) if p.default is not p.empty else '', doc])
    ret = (dm.get('return') or {}).get('docment') or ''
    ret_type = '' if inspect.isclass(obj) else fmt_annotation(sig.return_annotation)
    if ret or ret_type: rows.append(['**Returns**', _code(ret_type), '', ret])
    if not rows: return ''
    head = '| Parameter | Type | Default | Details |\n|:--|:--|:--|:------|\n'
    return '::: {.api-params}\n' + head + '\n'.join('| ' + ' | '.join(r[:3] + [_cell(r[3])]) + ' |' for r in rows) + '\n:::'

def resolve(expr: str, module: str):
    "The object `show_doc(expr)` documents, looked up in `module` (None if it is not there)."
    if not re.fullmatch(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*', expr.strip()): return None
    try: obj = importlib.import_module(module)
    except Exception: return None
    for part in expr.strip().split('.'):
        obj = getattr(obj, part, None)
        if obj is None: return None
    return obj

def entry(expr: str, module: str | None, nbdev_md: str) -> str:
    "The markdown of one API entry: nbdev's heading and source link, then our signature, docstring and table."
    obj = resolve(expr, module) if module else None
    head = re.match(r'(.*?^(#+) (.+?)\n)', nbdev_md, re.S | re.M)
    if obj is None or not callable(obj) or not head: return re.sub(r':NoneType(=None)', r'\1', nbdev_md)
    try: sig = signature_text(obj, head.group(3).strip())
    except (TypeError, ValueError): return re.sub(r':NoneType(=None)', r'\1', nbdev_md)
    doc = inspect.getdoc(obj) or ''
    if doc: doc = re.sub(r'^(\s*)(.+)', r'\1*\2*', doc, count=1)
    parts = [head.group(1).rstrip(), f'```python\n{sig}\n```', doc, param_table(obj)]
    return '\n\n'.join(p for p in parts if p) + '\n'
