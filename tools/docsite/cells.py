"Step 2 of the build: apply Quarto's cell options to a processed notebook the way Quarto applies them."
import re

import yaml

# nbconvert's HTML display priority, without the JavaScript/widget types a static page cannot run
MIME_ORDER = ['text/html', 'text/markdown', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/latex',
              'text/plain']
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

def cell_options(src: str) -> tuple[dict, str]:
    "The `#|` options at the top of a code cell, and the code without them."
    lines, opts = src.splitlines(), {}
    i = 0
    while i < len(lines) and lines[i].startswith('#|'):
        body = lines[i][2:].strip()
        if ':' in body:
            k, v = body.split(':', 1)
            try: opts[k.strip()] = yaml.safe_load(v) if v.strip() else True
            except yaml.YAMLError: opts[k.strip()] = v.strip()
        elif body: opts[body.split()[0]] = True  # nbdev style flags such as `#| hide`
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')

def text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

def _markdown(src): return {'cell_type': 'markdown', 'metadata': {}, 'source': src}

def _code(code, outputs, opts, fold_default):
    "A code cell for pandoc; Quarto's options that pandoc cannot know travel as cell metadata to the Lua filter."
    fold = opts.get('code-fold', fold_default)
    md = {}
    if code and fold in (True, 'show'):
        md = {'code-fold': 'show' if fold == 'show' else 'true', 'code-summary': str(opts.get('code-summary', 'Show the code'))}
    if opts.get('fig-alt'): md['fig-alt'] = str(opts['fig-alt'])
    return {'cell_type': 'code', 'execution_count': None, 'metadata': md, 'outputs': outputs, 'source': code}

def _asis(code, outputs, opts, fold_default, api_entry):
    "`#| output: asis`: the outputs *are* page text (that is how nbdev's show_doc entries become part of the page)."
    md = []
    for o in outputs:
        d = o.get('data', {})
        if 'text/markdown' in d: md.append(text(d['text/markdown']))
        elif o.get('output_type') == 'stream': md.append(text(o.get('text')))
        elif 'text/plain' in d: md.append(text(d['text/plain']))
    m = re.fullmatch(r'show_doc\((.+)\)', code.strip(), re.S)
    if m and api_entry and md: md = [api_entry(m.group(1), '\n\n'.join(md))]
    cells = []
    if opts.get('echo') is not False and code: cells.append(_code(code, [], opts, fold_default))
    if md: cells.append(_markdown('\n\n'.join(md)))
    return cells

def _latex_or_markdown(o, best):
    "pandoc's notebook reader drops text/latex and text/markdown results: they become page text in an output block."
    body = text(o['data'][best]).strip()
    if best == 'text/latex':  # SymPy's results: `$\displaystyle ...$`, shown as display math
        m = re.fullmatch(r'\$\$?(.*?)\$?\$', body, re.S)
        body = f'$${m.group(1).strip()}$$' if m else body
    return _markdown(f'::: {{.cell-output .cell-output-display}}\n{body}\n:::')

def _code_cells(code, outputs, opts, fold_default):
    "A code cell and its outputs, each output in its richest displayable form (split where one must become text)."
    cells, clean = [], []
    for o in outputs:
        o = dict(o)
        if o['output_type'] == 'execute_result': o['execution_count'] = o.get('execution_count') or 1
        if 'data' in o:  # like Jupyter and Quarto, show one representation: the richest the page can display
            best = next((m for m in MIME_ORDER if m in o['data']), None)
            if best is None: continue
            if best in ('text/latex', 'text/markdown'):
                if code or clean: cells.append(_code(code, clean, opts, fold_default))
                code, clean = '', []
                cells.append(_latex_or_markdown(o, best)); continue
            o['data'] = {best: o['data'][best]}
        if o['output_type'] == 'error': o['traceback'] = [ANSI.sub('', t) for t in o.get('traceback', [])]
        if o['output_type'] == 'stream': o['text'] = ANSI.sub('', text(o.get('text')))
        clean.append(o)
    if code or clean: cells.append(_code(code, clean, opts, fold_default))
    return cells

def prepare(nb: dict, fold_default=False, api_entry=None) -> tuple[dict, dict]:
    """Apply front matter and Quarto cell options to a processed notebook; return (notebook for pandoc, front matter).
    `api_entry(expr, markdown)`, if given, rewrites the markdown of the `show_doc(expr)` cells."""
    front, cells = {}, []
    for c in nb['cells']:
        src = text(c.get('source'))
        if c['cell_type'] == 'raw':
            m = re.match(r'\s*---\n(.*?)\n---\s*$', src, re.S)
            if m and not front: front = yaml.safe_load(m.group(1)) or {}
            continue  # raw cells (front matter, raw LaTeX) are not page content
        if c['cell_type'] == 'markdown': cells.append(_markdown(src)); continue
        opts, code = cell_options(src)
        if opts.get('include') is False or opts.get('hide') is True: continue
        outputs = [] if opts.get('output') is False else c.get('outputs', [])
        if opts.get('warning') is False: outputs = [o for o in outputs if o.get('name') != 'stderr']
        if opts.get('output') == 'asis': cells += _asis(code, outputs, opts, fold_default, api_entry); continue
        cells += _code_cells('' if opts.get('echo') is False else code, outputs, opts, fold_default)
    out = {'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                                        'language_info': {'name': 'python'}}, 'nbformat': 4, 'nbformat_minor': 5}
    return out, front
