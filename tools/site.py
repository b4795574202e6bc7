"""Build the documentation site without Quarto: a static folder a browser opens with no network.

    python tools/site.py build [--out _site_local]          # build every page the sidebar lists
    python tools/site.py serve [--out _site_local] [--port 8000]   # build, then serve it on http://127.0.0.1:8000
    python tools/site.py build --only 01_matmul.ipynb      # a quick look at one page while writing it

With Quarto installed, `nbdev_preview` / `nbdev_docs` make the real site from `nbs/_quarto.yml`, `nbs/nbdev.yml`,
`nbs/sidebar.yml` and `nbs/styles.css`. This command makes the same pages from the same inputs with tools that install
from PyPI, so the site can be built and tested anywhere:

1. nbdev's own processing (what `nbdev_proc_nbs` does, minus its attempt to download and install Quarto and its
   rewrite of `foundations/_modidx.py`, which `nbdev_export` keeps current): every
   notebook goes to `_proc/` with `#| hide` cells removed, the title cell turned into front matter, and a `show_doc`
   cell (executed, its markdown output stored) after every exported function and class.
2. Quarto's cell options are applied the way Quarto applies them: `#| include: false` drops a cell, `#| echo: false`
   drops its code, `#| output: false` its outputs, `#| output: asis` turns a markdown output into page text (that is
   how the `show_doc` entries become part of the page), `#| warning: false` drops stderr, `#| code-fold` folds code.
3. pandoc (the `pypandoc_binary` wheel ships a pinned pandoc) converts each notebook to HTML with the page template
   below: math as MathML (no JavaScript, no CDN), plots extracted as image files, links to other notebooks pointed at
   their pages, the sidebar of `sidebar.yml` and previous/next links. Page file names follow nbdev's `output-file`
   (`01_matmul.ipynb` -> `matmul.html`), as on the Quarto site, so nbdev's links to `matmul.html#time_fn` work.
"""
import argparse, functools, hashlib, html, http.server, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
PROC = ROOT / '_proc'
DEFAULT_OUT = ROOT / '_site_local'
MARKDOWN = 'ipynb-gfm_auto_identifiers+link_attributes+fenced_divs+bracketed_spans+native_divs+header_attributes+fenced_code_attributes' \
           '+inline_code_attributes+footnotes+definition_lists+raw_attribute+implicit_figures+superscript+subscript'


class SiteError(Exception): "A problem with the docs inputs that the person building the site has to fix."


# ---------------------------------------------------------------- configuration (the same files Quarto reads)

def _merge(a: dict, b: dict) -> dict:
    "Merge `b` into `a` the way Quarto merges `metadata-files` (dicts recursively, everything else replaced)."
    out = dict(a)
    for k, v in b.items(): out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out

def load_config(nbs: Path | None = None) -> dict:
    "`_quarto.yml` merged with its `metadata-files` (nbdev.yml, sidebar.yml)."
    nbs = nbs or NBS
    def read(p):
        name = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
        if not p.exists(): raise SiteError(f'{name} is missing')
        try: d = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e: raise SiteError(f'{name} is not valid YAML: {e}') from e
        if not isinstance(d, dict): raise SiteError(f'{name} must be a YAML mapping')
        return d
    cfg = read(nbs / '_quarto.yml')
    for f in cfg.get('metadata-files', []): cfg = _merge(cfg, read(nbs / f))
    return cfg

def sidebar_pages(cfg: dict) -> list[tuple[str | None, str]]:
    "(section, notebook file) for every page of the sidebar, in sidebar order."
    sb = cfg.get('website', {}).get('sidebar', {})
    if isinstance(sb, list): sb = sb[0] if sb else {}
    out = []
    def walk(items, section):
        for it in items or []:
            if isinstance(it, str): out.append((section, it))
            elif isinstance(it, dict) and 'section' in it: walk(it.get('contents'), it['section'])
            elif isinstance(it, dict) and 'href' in it: out.append((section, it['href']))
            else: raise SiteError(f'sidebar.yml: cannot read the entry {it!r} (use a file name, href: or section:)')
    walk(sb.get('contents'), None)
    if not out: raise SiteError('sidebar.yml lists no pages')
    return out


# ---------------------------------------------------------------- step 1: nbdev's processing

def proc_nbs(only: list[str] | None = None) -> Path:
    "Run nbdev's docs processing into `_proc/` (the steps of `nbdev_proc_nbs` except installing Quarto)."
    skip = r'^[_.]' + (r'|^(?!(?:' + '|'.join(re.escape(f) for f in only) + r')$)' if only else '')
    code = ('from nbdev.quarto import refresh_quarto_yml; from nbdev.serve import proc_nbs; refresh_quarto_yml(); '
            f'proc_nbs(n_workers=2, skip_file_re={skip!r})')
    # refresh_quarto_yml rewrites nbs/nbdev.yml from settings.ini, as nbdev_proc_nbs does (which also rebuilds
    # foundations/_modidx.py: left to nbdev_export here); proc_nbs only redoes notebooks changed since the last run.
    # nbdev redoes a notebook only when it is newer than its `_proc/` copy; a notebook saved while nbdev was reading
    # it would then stay stale. So we also remember what each notebook held when it was processed, and drop the
    # `_proc/` copy of any notebook whose content changed since.
    record = PROC / '.site-sources.json'
    try: done = json.loads(record.read_text())
    except (OSError, ValueError): done = {}
    now = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in NBS.glob('*.ipynb') if not only or p.name in only}
    for name, h in now.items():
        if done.get(name) != h: (PROC / name).unlink(missing_ok=True)
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    if r.returncode == 0 and PROC.is_dir():
        tmp = record.with_suffix('.tmp')
        tmp.write_text(json.dumps({**done, **now}, indent=0)); os.replace(tmp, record)
    if r.returncode:
        err = r.stderr
        i = err.rfind('\nException: Error in notebook')
        if i >= 0:  # nbdev names the notebook and the cell; the rest is a traceback through its worker pool
            raise SiteError(f'nbdev processing failed: {err[i + 1:].strip()}\n(to run show_doc, nbdev executes only the '
                            f'cells that contain an import, so such a cell cannot use variables from other cells: '
                            f'move its imports into a cell of their own)')
        raise SiteError(f'nbdev processing failed:\n{r.stdout[-3000:]}{err[-3000:]}')
    return PROC


# ---------------------------------------------------------------- step 2: Quarto's cell options

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

def _text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

def prepare(nb: dict, fold_default=False) -> tuple[dict, dict]:
    "Apply front matter and Quarto cell options to a processed notebook; return (notebook for pandoc, front matter)."
    front, cells = {}, []
    for c in nb['cells']:
        src = _text(c.get('source'))
        if c['cell_type'] == 'raw':
            m = re.match(r'\s*---\n(.*?)\n---\s*$', src, re.S)
            if m and not front: front = yaml.safe_load(m.group(1)) or {}
            continue  # raw cells (front matter, raw LaTeX) are not page content
        if c['cell_type'] == 'markdown':
            cells.append({'cell_type': 'markdown', 'metadata': {}, 'source': src}); continue
        opts, code = cell_options(src)
        if opts.get('include') is False or opts.get('hide') is True: continue
        outputs = [] if opts.get('output') is False else c.get('outputs', [])
        if opts.get('warning') is False: outputs = [o for o in outputs if o.get('name') != 'stderr']
        if opts.get('output') == 'asis':  # the output *is* page text (nbdev's show_doc cells)
            md = []
            for o in outputs:
                d = o.get('data', {})
                if 'text/markdown' in d: md.append(_text(d['text/markdown']))
                elif o.get('output_type') == 'stream': md.append(_text(o.get('text')))
                elif 'text/plain' in d: md.append(_text(d['text/plain']))
            if opts.get('echo') is not False and code: cells.append(_code(code, [], opts, fold_default))
            if md: cells.append({'cell_type': 'markdown', 'metadata': {}, 'source': '\n\n'.join(md)})
            continue
        if opts.get('echo') is False: code = ''
        clean = []
        for o in outputs:
            o = dict(o)
            if o['output_type'] == 'execute_result': o['execution_count'] = o.get('execution_count') or 1
            if 'data' in o:  # like Jupyter and Quarto, show one representation: the richest the page can display
                best = next((m for m in MIME_ORDER if m in o['data']), None)
                if best is None: continue
                if best in ('text/latex', 'text/markdown'):
                    # pandoc's notebook reader drops these; they become page text in an output block of their own
                    # (SymPy's results are text/latex: `$\displaystyle ...$`, shown as display math)
                    if code or clean: cells.append(_code(code, clean, opts, fold_default))
                    code, clean = '', []
                    body = _text(o['data'][best]).strip()
                    if best == 'text/latex':
                        m = re.fullmatch(r'\$\$?(.*?)\$?\$', body, re.S)
                        body = f'$${m.group(1).strip()}$$' if m else body
                    cells.append({'cell_type': 'markdown', 'metadata': {},
                                  'source': f'::: {{.cell-output .cell-output-display}}\n{body}\n:::'})
                    continue
                o['data'] = {best: o['data'][best]}
            if o['output_type'] == 'error':
                o['traceback'] = [re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', t) for t in o.get('traceback', [])]
            if o['output_type'] == 'stream': o['text'] = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', _text(o.get('text')))
            clean.append(o)
        if code or clean: cells.append(_code(code, clean, opts, fold_default))
    out = {'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                                        'language_info': {'name': 'python'}}, 'nbformat': 4, 'nbformat_minor': 5}
    return out, front

# nbconvert's HTML display priority, without the JavaScript/widget types a static page cannot run
MIME_ORDER = ['text/html', 'text/markdown', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/latex',
              'text/plain']

def _code(code, outputs, opts, fold_default):
    fold = opts.get('code-fold', fold_default)
    md = {}
    if code and fold in (True, 'show'):
        md = {'code-fold': 'show' if fold == 'show' else 'true', 'code-summary': str(opts.get('code-summary', 'Show the code'))}
    return {'cell_type': 'code', 'execution_count': None, 'metadata': md, 'outputs': outputs, 'source': code}


# ---------------------------------------------------------------- step 3: pandoc

def pandoc_path() -> str:
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except Exception:
        p = shutil.which('pandoc')
        if p: return p
        raise SiteError('pandoc not found: pip install -e ".[dev]" installs it (pypandoc_binary)')

# The pandoc Lua filter: Quarto's class names for cells and outputs (so nbs/styles.css applies as on the Quarto
# site), notebook links -> page links, the site's own absolute URLs -> relative ones, folded code.
LUA = r'''
local nblinks, siteurl = {}, ""
local function meta(m)
  if m["site-nblinks"] then for k, v in pairs(m["site-nblinks"]) do nblinks[k] = pandoc.utils.stringify(v) end end
  if m["site-url"] then siteurl = pandoc.utils.stringify(m["site-url"]) end
end
local out_class = {stdout = "cell-output-stdout", stderr = "cell-output-stderr", execute_result = "cell-output-display",
                   display_data = "cell-output-display", error = "cell-output-error"}
local function unquote(s)  -- pandoc stores cell metadata values as JSON text: "\"true\""
  if s == nil then return nil end
  return (s:gsub('^"(.*)"$', '%1'))
end
local function div(d)
  if d.classes:includes("cell") and d.classes:includes("markdown") then return d.content end  -- markdown is page text
  if d.classes:includes("cell") then
    d.identifier = ""
    local fold, summary = unquote(d.attributes["code-fold"]), unquote(d.attributes["code-summary"])
    d.classes = {"cell"}
    d.attributes = {}
    if fold then
      local blocks = pandoc.List()
      for _, b in ipairs(d.content) do
        if b.t == "CodeBlock" then
          blocks:insert(pandoc.RawBlock("html", '<details class="code-fold"' .. (fold == "show" and " open" or "") ..
            '><summary>' .. summary:gsub("<", "&lt;") .. '</summary>'))
          blocks:insert(b)
          blocks:insert(pandoc.RawBlock("html", "</details>"))
        else blocks:insert(b) end
      end
      d.content = blocks
    end
    return d
  end
  if d.classes:includes("output") then
    local cls = {"cell-output"}
    for _, c in ipairs(d.classes) do if out_class[c] then table.insert(cls, out_class[c]) end end
    d.classes = cls
    d.attributes = {}
    return d
  end
end
local function link(l)
  local t = l.target
  if siteurl ~= "" and t:sub(1, #siteurl + 1) == siteurl .. "/" then t = t:sub(#siteurl + 2) end
  local file, frag = t:match("^([%w_%.%-]+%.ipynb)(#?.*)$")
  if file and nblinks[file] then t = nblinks[file] .. frag end
  l.target = t
  return l
end
-- pandoc reads each notebook cell on its own, so two cells can give two headings the same id; number the repeats
-- as pandoc (and so Quarto) does for one document: the first keeps the id, then id-1, id-2
local seen = {}
local function header(h)
  local id = h.identifier
  if id == "" then return nil end
  if seen[id] then
    local n, new = seen[id], nil
    repeat new = id .. "-" .. n; n = n + 1 until not seen[new]
    seen[id], seen[new], h.identifier = n, 1, new
    return h
  end
  seen[id] = 1
end
return {{Meta = meta}, {Div = div, Link = link, Header = header}}
'''

TEMPLATE = r'''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tools/site.py (nbdev + pandoc)">
<title>$pagetitle$</title>
$if(description-meta)$<meta name="description" content="$description-meta$">$endif$
<style>
$highlighting-css$
</style>
<link rel="stylesheet" href="site.css">
<link rel="stylesheet" href="styles.css">
</head>
<body>
<header class="navbar"><a class="brand" href="index.html">$site-title$</a>
<span class="navlinks">$navlinks$</span></header>
<div class="layout">
<nav class="sidebar" aria-label="course">$sidebar$</nav>
<main class="content">
<header class="title-block"><h1 class="title">$title$</h1>
$if(description)$<div class="description">$description$</div>$endif$
</header>
$body$
<nav class="page-navigation">$pagenav$</nav>
</main>
$if(toc)$<nav class="toc" aria-label="on this page"><h2>On this page</h2>$table-of-contents$</nav>$endif$
</div>
</body>
</html>
'''

CSS = r'''
:root { --accent: #2780e3; --border: #dee2e6; --muted: #6c757d; --code-bg: #f8f9fa; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; line-height: 1.55;
       color: #212529; background: #fff; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.navbar { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: 0.6rem 1.5rem;
          background: var(--accent); color: #fff; position: sticky; top: 0; z-index: 10; }
.navbar a { color: #fff; }
.navbar .brand { font-weight: 600; font-size: 1.2rem; }
.navbar .navlinks a { margin-left: 1.2rem; opacity: 0.9; }
.layout { display: grid; grid-template-columns: 15rem minmax(0, 52rem) 14rem; gap: 2rem; justify-content: center;
          padding: 0 1.5rem; }
.sidebar, .toc { position: sticky; top: 3.6rem; align-self: start; max-height: calc(100vh - 4rem); overflow-y: auto;
                 padding-top: 2rem; font-size: 0.9rem; }
.sidebar ul, .toc ul { list-style: none; margin: 0; padding-left: 0; }
.sidebar ul ul { padding-left: 0.8rem; }
.sidebar li { margin: 0.25rem 0; }
.sidebar .section { font-weight: 600; margin-top: 0.8rem; color: #343a40; }
.sidebar a { color: #495057; display: block; padding: 0.1rem 0.4rem; border-radius: 4px; }
.sidebar a.active { color: var(--accent); background: #e9f2fc; font-weight: 600; }
.toc h2 { font-size: 0.9rem; margin: 0 0 0.4rem; }
.toc ul ul { padding-left: 0.8rem; }
.toc a { color: var(--muted); }
.content { padding: 1rem 0 4rem; min-width: 0; }
.title-block { border-bottom: 1px solid var(--border); margin-bottom: 1.5rem; padding-bottom: 0.5rem; }
h1.title { font-size: 2.2rem; margin: 1rem 0 0.3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid var(--border); padding-bottom: 0.2rem; }
h3 { margin-top: 1.6rem; }
pre, code { font-family: "DejaVu Sans Mono", SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; }
:not(pre) > code { background: var(--code-bg); padding: 0.1rem 0.3rem; border-radius: 3px; color: #7d12ba; }
a > code, a:not(pre) > code { color: var(--accent); }
div.sourceCode, pre { background: var(--code-bg); border-radius: 4px; }
pre { padding: 0.6rem 0.8rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 0.5rem 0; }
div.sourceCode { border: 1px solid #e9ecef; margin: 0.5rem 0; }
div.sourceCode pre { margin: 0; background: none; }
pre > code.sourceCode { white-space: pre-wrap; }  /* code-overflow: wrap, with a hanging indent */
pre > code.sourceCode > span { display: inline-block; text-indent: -4ch; padding-left: 4ch; }
html { scroll-padding-top: 4rem; }
pre > code.sourceCode > span > a:first-child::before { text-decoration: none; }
.cell-output-display img, .content img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
.cell-output-stderr pre { background: #fff8e6; }
.cell-output-error pre { background: #fdecea; }
.cell-output table, .content table { border-collapse: collapse; margin: 0.8rem 0; }
.content th, .content td { border-bottom: 1px solid var(--border); padding: 0.25rem 0.7rem; text-align: left; }
.content thead th { border-bottom: 2px solid #adb5bd; }
details.code-fold > summary { cursor: pointer; color: var(--muted); font-size: 0.9rem; }
blockquote { border-left: 3px solid var(--border); margin-left: 0; padding-left: 1rem; color: #495057; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", math; font-size: 1.1em; }
math[display="block"] { margin: 0.8rem 0; overflow-x: auto; }
hr { border: none; border-top: 1px solid var(--border); margin: 2rem 0 0.5rem; }
.page-navigation { display: flex; justify-content: space-between; gap: 1rem; margin-top: 3rem; padding-top: 1rem;
                   border-top: 1px solid var(--border); }
.page-navigation a { display: block; max-width: 48%; }
.page-navigation .next { margin-left: auto; text-align: right; }
.page-navigation small { display: block; color: var(--muted); }
@media (max-width: 1100px) { .layout { grid-template-columns: 14rem minmax(0, 1fr); } .toc { display: none; } }
@media (max-width: 700px) { .layout { display: block; } .sidebar { position: static; max-height: none; } }
'''


def _page_name(front: dict, nb_file: str) -> str:
    return front.get('output-file') or (Path(nb_file).stem + '.html')

def _sidebar_html(pages, current):
    parts, section = ['<ul>'], None
    for p in pages:
        if p['section'] != section:
            if section is not None: parts.append('</ul></li>')
            section = p['section']
            if section is not None: parts.append(f'<li class="section">{html.escape(section)}<ul>')
        cls = ' class="active" aria-current="page"' if p is current else ''
        parts.append(f'<li><a href="{p["href"]}"{cls}>{html.escape(p["title"])}</a></li>')
    if section is not None: parts.append('</ul></li>')
    parts.append('</ul>')
    return ''.join(parts)

def _pagenav_html(pages, i):
    out = []
    if i > 0:
        p = pages[i - 1]; out.append(f'<a class="prev" href="{p["href"]}"><small>Previous</small>&larr; {html.escape(p["title"])}</a>')
    if i + 1 < len(pages):
        p = pages[i + 1]; out.append(f'<a class="next" href="{p["href"]}"><small>Next</small>{html.escape(p["title"])} &rarr;</a>')
    return ''.join(out)

def build(out: Path = DEFAULT_OUT, proc: bool = True, quiet: bool = False, only: list[str] | None = None) -> dict:
    "Build the site into `out`; return a summary (pages, seconds, bytes). `only`: build just these notebooks."
    t0 = time.time()
    say = (lambda *a: None) if quiet else print
    cfg = load_config(NBS)
    site = cfg.get('website', {})
    entries = sidebar_pages(cfg)
    on_disk = sorted(p.name for p in NBS.glob('*.ipynb'))
    unlisted = [f for f in on_disk if f not in {f for _, f in entries}]
    if unlisted: say(f'warning: not in sidebar.yml, so not built: {", ".join(unlisted)}')
    if only:
        unknown = [f for f in only if f not in {f for _, f in entries}]
        if unknown: raise SiteError(f'--only {", ".join(unknown)}: not in sidebar.yml')
        entries = [e for e in entries if e[1] in only]
    missing = [f for _, f in entries if not (NBS / f).exists()]
    if missing: raise SiteError(f'sidebar.yml lists {", ".join(missing)} but nbs/ has no such notebook')
    if proc: proc_nbs(only)
    t_proc = time.time() - t0

    html_opts = (cfg.get('format') or {}).get('html') or {}
    fold_default = html_opts.get('code-fold', False)
    pages = []
    for section, f in entries:
        src = PROC / f
        if not src.exists(): raise SiteError(f'{f}: nbdev produced no _proc/{f} (run `nbdev_proc_nbs` to see why)')
        nb, front = prepare(json.loads(src.read_text()), fold_default)
        if not front.get('title'): raise SiteError(f'{f}: no title (the first markdown cell must be "# Title")')
        pages.append(dict(section=section, file=f, nb=nb, front=front, title=str(front['title']),
                          href=_page_name(front, f)))
    names = [p['href'] for p in pages]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes: raise SiteError(f'two notebooks make the same page {dupes}: give them different names')

    tmp = Path(tempfile.mkdtemp(prefix='site-'))
    stage = out.with_name(out.name + '.tmp')
    shutil.rmtree(stage, ignore_errors=True); stage.mkdir(parents=True)
    (tmp / 'filter.lua').write_text(LUA)
    (tmp / 'template.html').write_text(TEMPLATE)
    (stage / 'site.css').write_text(CSS.lstrip())
    if (NBS / 'styles.css').exists(): shutil.copy(NBS / 'styles.css', stage / 'styles.css')
    for d in ('images',):
        if (NBS / d).is_dir(): shutil.copytree(NBS / d, stage / d)
    nblinks = {p['file']: p['href'] for p in pages}
    site_title = str(site.get('title') or 'foundations')
    repo = str(site.get('repo-url') or '').rstrip('/')
    navlinks = ''.join(f'<a href="{html.escape(h)}">{t}</a>' for t, h in
                       ([('GitHub', repo), ('Report an issue', repo + '/issues/new')] if repo else []))
    pandoc = pandoc_path()
    toc = html_opts.get('toc', True)
    toc_depth = str(html_opts.get('toc-depth', 3))

    def render(i):
        p = pages[i]
        stem = Path(p['href']).stem
        src = tmp / f'{stem}.ipynb'
        src.write_text(json.dumps(p['nb']))
        meta = {'title': p['title'], 'site-nblinks': nblinks, 'site-url': str(site.get('site-url', '')),
                'pagetitle': site_title if p['title'] == site_title else f'{p["title"]} – {site_title}'}
        if p['front'].get('description'): meta['description'] = str(p['front']['description'])  # pandoc also puts it in <meta>
        (tmp / f'{stem}.meta.json').write_text(json.dumps(meta))
        cmd = [pandoc, str(src), '-f', MARKDOWN, '-t', 'html5', '-s', '--mathml', '--template', str(tmp / 'template.html'),
               '--lua-filter', str(tmp / 'filter.lua'), '--metadata-file', str(tmp / f'{stem}.meta.json'),
               '--extract-media', f'img/{stem}', '--syntax-highlighting=pygments', '--wrap=none',
               '-V', f'site-title={html.escape(site_title)}', '-V', f'navlinks={navlinks}',
               '-V', f'sidebar={_sidebar_html(pages, p)}', '-V', f'pagenav={_pagenav_html(pages, i)}',
               '-o', p['href']]
        if toc: cmd += ['--toc', f'--toc-depth={toc_depth}']
        r = subprocess.run(cmd, cwd=stage, capture_output=True, text=True)
        if r.returncode: raise SiteError(f'{p["file"]}: pandoc failed ({r.returncode}):\n{r.stderr}')
        bad = [l for l in r.stderr.splitlines() if 'Could not convert TeX math' in l or 'WARNING' in l.upper()]
        if bad: raise SiteError(f'{p["file"]}: pandoc warned:\n' + '\n'.join(bad))
        return p['href']

    try:
        with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 2))) as ex: list(ex.map(render, range(len(pages))))
    finally: shutil.rmtree(tmp, ignore_errors=True)
    manifest = [dict(file=p['file'], href=p['href'], title=p['title'], section=p['section'],
                     pagetitle=site_title if p['title'] == site_title else f'{p["title"]} – {site_title}')
                for p in pages]
    (stage / 'site.json').write_text(json.dumps({'title': site_title, 'pages': manifest}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file())
    secs = time.time() - t0
    say(f'built {len(pages)} pages into {out} ({size / 1e6:.1f} MB) in {secs:.1f}s '
        f'(nbdev processing {t_proc:.1f}s, pandoc {secs - t_proc:.1f}s)')
    return dict(pages=len(pages), bytes=size, seconds=secs, out=str(out))


def serve(out: Path, port: int):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(('127.0.0.1', port), handler) as s:
        print(f'serving {out} on http://127.0.0.1:{s.server_address[1]}/index.html (Ctrl-C stops)')
        try: s.serve_forever()
        except KeyboardInterrupt: pass

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('cmd', choices=['build', 'serve'])
    ap.add_argument('--out', default=str(DEFAULT_OUT), help='the site folder (default: _site_local)')
    ap.add_argument('--no-proc', action='store_true', help='use _proc/ as it is (skip nbdev processing)')
    ap.add_argument('--only', nargs='+', metavar='NB', help='build only these notebooks, e.g. 01_matmul.ipynb')
    ap.add_argument('--port', type=int, default=8000)
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    try: build(out, proc=not a.no_proc, only=a.only)
    except SiteError as e: sys.exit(f'site build failed: {e}')
    if a.cmd == 'serve': serve(out, a.port)

if __name__ == '__main__': main()
