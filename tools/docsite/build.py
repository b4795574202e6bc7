"""Step 3 of the build: pandoc turns each prepared notebook into a page of the site (template, Lua filter, stylesheet
and script are the files in `assets/`); then Pagefind indexes the pages for search."""
import html, importlib, json, os, shutil, subprocess, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from . import apidoc, checks, search
from .cells import prepare
from .config import ASSETS, NBS, SiteError, html_options, load_config, repo_links, settings, sidebar_pages
from .nbproc import PROC, proc_nbs

DEFAULT_OUT = NBS.parent / '_site_local'
MARKDOWN = ('ipynb-gfm_auto_identifiers+link_attributes+fenced_divs+bracketed_spans+native_divs+header_attributes'
            '+fenced_code_attributes+inline_code_attributes+footnotes+definition_lists+raw_attribute+implicit_figures'
            '+superscript+subscript')
STATIC = ['site.css', 'site.js']  # copied into the site as they are


def pandoc_path() -> str:
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except Exception:
        p = shutil.which('pandoc')
        if p: return p
        raise SiteError('pandoc not found: pip install -e ".[dev]" installs it (pypandoc_binary)')

def _page_name(front: dict, nb_file: str) -> str: return front.get('output-file') or (Path(nb_file).stem + '.html')

def _pagetitle(title: str, site_title: str) -> str: return site_title if title == site_title else f'{title} – {site_title}'

def _entries(cfg, nbs, only, say):
    "The sidebar's (section, notebook) pairs to build: listed notebooks that are missing are skipped with a warning."
    for problem in checks.sidebar_problems(cfg, nbs): say(f'warning: {problem}')
    entries = sidebar_pages(cfg)
    if only:
        unknown = [f for f in only if f not in {f for _, f in entries}]
        if unknown: raise SiteError(f'--only {", ".join(unknown)}: not in sidebar.yml')
        entries = [e for e in entries if e[1] in only]
    missing = [f for f in checks.missing_notebooks(cfg, nbs) if f in {f for _, f in entries}]
    if missing: say(f'warning: sidebar.yml lists {", ".join(missing)} but nbs/ has no such notebook: skipped')
    return [e for e in entries if e[1] not in missing]

def _import_quietly(modules):
    for m in modules:
        try: importlib.import_module(m)
        except Exception: pass  # apidoc falls back to nbdev's entry for a module that does not import

def collect_pages(cfg: dict, nbs: Path, proc_dir: Path, entries) -> list[dict]:
    "Every page to build: its notebook prepared for pandoc (cell options applied, API entries rendered), title, file."
    fold_default = html_options(cfg).get('code-fold', False)
    lib = settings(nbs).get('lib_name', 'foundations')
    pages = []
    for section, f in entries:
        src = proc_dir / f
        if not src.exists(): raise SiteError(f'{f}: nbdev produced no _proc/{f} (run `nbdev_proc_nbs` to see why)')
        module = checks.module_of(nbs / f, lib)
        nb, front = prepare(json.loads(src.read_text()), fold_default, api_entry=lambda e, md: apidoc.entry(e, module, md))
        if not front.get('title'): raise SiteError(f'{f}: no title (the first markdown cell must be "# Title")')
        pages.append(dict(section=section, file=f, nb=nb, front=front, title=str(front['title']), href=_page_name(front, f)))
    names = [p['href'] for p in pages]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes: raise SiteError(f'two notebooks make the same page {dupes}: give them different names')
    return pages

def sidebar_html(pages, current) -> str:
    parts, section = ['<ul>'], None
    for p in pages:
        if p['section'] != section:
            if section is not None: parts.append('</ul></li>')
            section = p['section']
            if section is not None: parts.append(f'<li class="section">{html.escape(section)}<ul>')
        cls = ' class="active" aria-current="page"' if p is current else ''
        parts.append(f'<li><a href="{p["href"]}"{cls}>{html.escape(p["title"])}</a></li>')
    if section is not None: parts.append('</ul></li>')
    return ''.join(parts + ['</ul>'])

def pagenav_html(pages, i) -> str:
    out = []
    if i > 0:
        p = pages[i - 1]; out.append(f'<a class="prev" href="{p["href"]}"><small>Previous</small>&larr; {html.escape(p["title"])}</a>')
    if i + 1 < len(pages):
        p = pages[i + 1]; out.append(f'<a class="next" href="{p["href"]}"><small>Next</small>{html.escape(p["title"])} &rarr;</a>')
    return ''.join(out)

def site_options(cfg: dict, nbs: Path) -> dict:
    "What `_quarto.yml` asks of every page, as the variables of the page template."
    web, fmt = cfg.get('website') or {}, html_options(cfg)
    repo = repo_links(cfg, nbs)
    title = str(web.get('title') or 'foundations')
    links = [('GitHub', repo['url'])] if repo['url'] else []
    return dict(title=title, site_url=str(web.get('site-url') or '').rstrip('/'), repo=repo,
                navlinks=''.join(f'<a href="{html.escape(h)}">{t}</a>' for t, h in links),
                search=bool((web.get('navbar') or {}).get('search', True)), code_copy=fmt.get('code-copy', True) is not False,
                toc=fmt.get('toc', True), toc_depth=str(fmt.get('toc-depth', 3)), twitter=bool(web.get('twitter-card')),
                open_graph=bool(web.get('open-graph')))

def _page_vars(opts: dict, pages: list, i: int) -> list[str]:
    "pandoc `-V` arguments for page `i`: navigation, the page's repository links and the site-wide switches."
    p, repo = pages[i], opts['repo']
    v = {'site-title': html.escape(opts['title']), 'navlinks': opts['navlinks'], 'sidebar': sidebar_html(pages, p),
         'pagenav': pagenav_html(pages, i)}
    if repo['url'] and repo['source']: v['source-url'] = f'{repo["url"]}/blob/{repo["branch"]}/{repo["subdir"]}/{p["file"]}'
    if repo['url'] and repo['issue']:
        v['issue-url'] = f'{repo["url"]}/issues/new?title=' + quote('Docs: ' + p['title'])
    if opts['site_url']: v['page-url'] = f'{opts["site_url"]}/{p["href"]}'
    for key, on in [('search', opts['search']), ('code-copy', opts['code_copy']), ('twitter-card', opts['twitter']),
                    ('open-graph', opts['open_graph'])]:
        if on: v[key] = 'true'
    return [a for k, val in v.items() for a in ('-V', f'{k}={val}')]

def render_page(pandoc: str, stage: Path, tmp: Path, opts: dict, pages: list, i: int) -> str:
    "One page: the prepared notebook through pandoc with the template and filter of `assets/`."
    p = pages[i]
    stem = Path(p['href']).stem
    src = tmp / f'{stem}.ipynb'
    src.write_text(json.dumps(p['nb']))
    meta = {'title': p['title'], 'site-nblinks': {q['file']: q['href'] for q in pages}, 'site-url': opts['site_url'],
            'pagetitle': _pagetitle(p['title'], opts['title'])}
    if p['front'].get('description'): meta['description'] = str(p['front']['description'])  # pandoc also puts it in <meta>
    (tmp / f'{stem}.meta.json').write_text(json.dumps(meta))
    cmd = [pandoc, str(src), '-f', MARKDOWN, '-t', 'html5', '-s', '--mathml', '--template', str(ASSETS / 'template.html'),
           '--lua-filter', str(ASSETS / 'filter.lua'), '--metadata-file', str(tmp / f'{stem}.meta.json'),
           '--extract-media', f'img/{stem}', f'--syntax-highlighting={ASSETS / "github.theme"}', '--wrap=none',
           *_page_vars(opts, pages, i), '-o', p['href']]
    if opts['toc']: cmd += ['--toc', f'--toc-depth={opts["toc_depth"]}']
    r = subprocess.run(cmd, cwd=stage, capture_output=True, text=True)
    if r.returncode: raise SiteError(f'{p["file"]}: pandoc failed ({r.returncode}):\n{r.stderr}')
    bad = [l for l in r.stderr.splitlines() if 'Could not convert TeX math' in l or 'WARNING' in l.upper()]
    if bad: raise SiteError(f'{p["file"]}: pandoc warned:\n' + '\n'.join(bad))
    return p['href']

def _write_static(stage: Path, nbs: Path):
    for f in STATIC: shutil.copy(ASSETS / f, stage / f)
    if (nbs / 'styles.css').exists(): shutil.copy(nbs / 'styles.css', stage / 'styles.css')
    if (nbs / 'images').is_dir(): shutil.copytree(nbs / 'images', stage / 'images')

def build(out: Path = DEFAULT_OUT, proc: bool = True, quiet: bool = False, only: list[str] | None = None,
          nbs: Path | None = None, search_index: bool = True) -> dict:
    """Build the site into `out`; return a summary (pages, seconds, bytes). `only`: just these notebooks; `nbs`: another
    notebook folder (its processed notebooks in `_proc/` beside it, made by nbdev only for the project's own `nbs/`)."""
    t0 = time.time()
    say = (lambda *a: None) if quiet else print
    nbs = nbs or NBS
    cfg = load_config(nbs)
    entries = _entries(cfg, nbs, only, say)
    # the API entries are rendered from the library: import it (torch takes seconds) while nbdev processes the notebooks
    lib = settings(nbs).get('lib_name', 'foundations')
    modules = [m for m in (checks.module_of(nbs / f, lib) for _, f in entries) if m]
    preload = threading.Thread(target=_import_quietly, args=(modules,), daemon=True)
    preload.start()
    if proc and nbs == NBS: proc_nbs(only)
    preload.join()
    t_proc = time.time() - t0
    pages = collect_pages(cfg, nbs, PROC if nbs == NBS else nbs.parent / '_proc', entries)
    opts = site_options(cfg, nbs)
    stage = out.with_name(out.name + '.tmp')
    shutil.rmtree(stage, ignore_errors=True); stage.mkdir(parents=True)
    _write_static(stage, nbs)
    pandoc, tmp = pandoc_path(), Path(tempfile.mkdtemp(prefix='site-'))
    try:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as ex:
            list(ex.map(lambda i: render_page(pandoc, stage, tmp, opts, pages, i), range(len(pages))))
    finally: shutil.rmtree(tmp, ignore_errors=True)
    t_pandoc = time.time() - t0 - t_proc
    if search_index and opts['search']: search.index(stage)
    manifest = [dict(file=p['file'], href=p['href'], title=p['title'], section=p['section'],
                     pagetitle=_pagetitle(p['title'], opts['title'])) for p in pages]
    (stage / 'site.json').write_text(json.dumps({'title': opts['title'], 'pages': manifest}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file())
    secs = time.time() - t0
    say(f'built {len(pages)} pages into {out} ({size / 1e6:.1f} MB) in {secs:.1f}s (nbdev processing {t_proc:.1f}s, '
        f'pandoc {t_pandoc:.1f}s, search index {secs - t_proc - t_pandoc:.1f}s)')
    return dict(pages=len(pages), bytes=size, seconds=secs, out=str(out))
