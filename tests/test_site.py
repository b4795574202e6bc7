"""The documentation site in a real browser: headless Chromium loads every page from a local HTTP server.

The site is built by `python tools/site.py build` into `_site_local/` (this module builds it when it is missing or
older than the notebooks). For every page the sidebar lists, the browser checks: no console errors, no failed or
off-machine requests, the page title, math rendered (at least as many MathML elements as the notebook has math spans,
each with a size, no raw `$...$` or TeX commands left in the text), hidden cells hidden, the plots of the notebook
present as loaded images, an API reference entry for every function and class the page's module exports, and that
every link on the page (sidebar, previous/next, table of contents, links between notebooks) leads to a page that
exists and to an anchor on it. Screenshots go to `_site_local/screenshots/`. Two tests without a browser check how
the builder applies Quarto's cell options and that it stops with a clear message when a listed notebook is missing.
To test a site as it is (say one built with `--only`), set FOUNDATIONS_SITE_NO_BUILD=1 (and FOUNDATIONS_SITE_DIR).

Chromium: Debian's `/usr/bin/chromium` (or `$CHROMIUM`); the Python `playwright` package drives it, no browser is
downloaded. Without a browser the tests are skipped on a workstation, but they FAIL when `CI` is set (GitHub Actions
sets it, `.ci/run` sets it) or `FOUNDATIONS_REQUIRE_BROWSER=1`: in CI a missing browser is an error, not a skip.
"""
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SITE = Path(os.environ.get('FOUNDATIONS_SITE_DIR', ROOT / '_site_local'))
REQUIRED = os.environ.get('CI', '').lower() in ('1', 'true', 'yes') or os.environ.get('FOUNDATIONS_REQUIRE_BROWSER') == '1'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--no-proxy-server']

_spec = importlib.util.spec_from_file_location('foundations_site_builder', ROOT / 'tools' / 'site.py')
sitebuilder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sitebuilder)

SIDEBAR = [f for _, f in sitebuilder.sidebar_pages(sitebuilder.load_config())]


def _unavailable(why):
    if REQUIRED: pytest.fail(f'{why} (CI is set, so the browser test cannot be skipped)')
    pytest.skip(why)

def _chromium():
    for p in [os.environ.get('CHROMIUM'), '/usr/bin/chromium', shutil.which('chromium'), shutil.which('chromium-browser'),
              shutil.which('google-chrome'), shutil.which('google-chrome-stable')]:
        if p and os.path.exists(p): return p


# ---------------------------------------------------------------- fixtures: the built site, a server, a browser

def _stale(out: Path) -> bool:
    manifest = out / 'site.json'
    if not manifest.exists(): return True
    inputs = [*NBS.glob('*.ipynb'), *NBS.glob('*.yml'), *NBS.glob('*.css'), ROOT / 'tools' / 'site.py']
    built = json.loads(manifest.read_text())
    return max(p.stat().st_mtime for p in inputs) > manifest.stat().st_mtime or \
        [p['file'] for p in built['pages']] != SIDEBAR

@pytest.fixture(scope='session')
def site():
    "The built site: its folder and manifest (pages in sidebar order), built now if missing or out of date."
    if os.environ.get('FOUNDATIONS_SITE_NO_BUILD') != '1' and _stale(SITE): sitebuilder.build(SITE, quiet=True)
    manifest = json.loads((SITE / 'site.json').read_text())
    return SITE, manifest

class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args): pass

@pytest.fixture(scope='session')
def server(site):
    handler = functools.partial(_Handler, directory=str(site[0]))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()

@pytest.fixture(scope='session')
def browser():
    exe = _chromium()
    if not exe: _unavailable('no Chromium: apt-get install chromium (or set CHROMIUM=/path/to/chrome)')
    try: from playwright.sync_api import sync_playwright
    except ImportError: _unavailable('the playwright package is missing: pip install -e ".[dev]"')
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        yield b
        b.close()

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, whatever the env says

def _fetch(url):
    "(status, body) of a URL on the local server."
    try:
        with _NO_PROXY.open(url, timeout=20) as r: return r.status, r.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as e: return e.code, ''

@functools.lru_cache(maxsize=None)
def _ids(url):
    status, body = _fetch(url)
    return status, frozenset(re.findall(r'\sid="([^"]+)"', body))


# ---------------------------------------------------------------- what the source notebooks say a page must show

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def _opts(src):
    "`#|` options of a code cell, read independently of the builder: {name: value-as-text}."
    out = {}
    for line in src.splitlines():
        if not line.startswith('#|'): break
        k, _, v = line[2:].strip().partition(':')
        out[k.strip()] = v.strip() or 'true'
    return out

def _math_in(md):
    "Math spans pandoc will see in markdown: $$display$$ and $inline$, code removed."
    md = re.sub(r'```.*?```', '', md, flags=re.S)
    md = re.sub(r'(`+).+?\1', '', md, flags=re.S)
    n_display = len(re.findall(r'\$\$.+?\$\$', md, re.S))
    md = re.sub(r'\$\$.+?\$\$', '', md, flags=re.S)
    n_inline = len(re.findall(r'(?<![\\$])\$(?=\S)[^$\n]*?(?<=[^\s\\])\$(?!\d)', md))
    return n_display + n_inline

def expected(nb_file):
    "What the page of `nb_file` must show: math spans, plots, module name."
    nb = json.loads((NBS / nb_file).read_text())
    math = images = 0
    module = None
    shown, hidden = [], []
    for c in nb['cells']:
        src = _src(c)
        if c['cell_type'] == 'markdown': math += _math_in(src); shown.append(src)
        if c['cell_type'] != 'code': continue
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', src, re.M)
        if m: module = m.group(1)
        o = _opts(src)
        (hidden if 'hide' in o or o.get('include') == 'false' or o.get('echo') == 'false' else shown).append(src)
        if 'hide' in o or o.get('include') == 'false' or o.get('output') == 'false': continue
        images += sum(any(k.startswith('image/') for k in out.get('data', {})) for out in c.get('outputs', []))
        # a LaTeX result (SymPy's) is math on the page too
        math += sum('text/latex' in d and 'text/html' not in d for d in (out.get('data', {}) for out in c.get('outputs', [])))
    # code lines of hidden cells that no shown cell has: none of them may appear on the page
    shown_text = '\n'.join(shown)
    secret = {l.strip() for src in hidden for l in src.splitlines()
              if len(l.strip()) >= 20 and not l.startswith('#|') and l.strip() not in shown_text}
    return dict(math=math, images=images, module=module, hidden_lines=sorted(secret))

def api_entries(module):
    "Anchors nbdev gives the module's top-level functions and classes (from `_modidx.py`), and `__all__`."
    modidx = {}
    exec((ROOT / 'foundations' / '_modidx.py').read_text(), modidx)
    syms = modidx['d']['syms'].get(f'foundations.{module}', {})
    prefix = f'foundations.{module}.'
    top = {k[len(prefix):]: v[0] for k, v in syms.items() if '.' not in k[len(prefix):] and not k[len(prefix):].startswith('_')}
    text = (ROOT / 'foundations' / (module.replace('.', '/') + '.py')).read_text()
    m = re.search(r'__all__ = \[(.*?)\]', text, re.S)
    exported = re.findall(r"'([^']+)'", m.group(1)) if m else []
    return top, exported


def _nbdev_anchors():
    "Every anchor nbdev's `_modidx.py` links to, methods and private names included."
    modidx = {}
    exec((ROOT / 'foundations' / '_modidx.py').read_text(), modidx)
    return {v[0].partition('#')[2] for syms in modidx['d']['syms'].values() for v in syms.values()}


# ---------------------------------------------------------------- the tests

def test_site_has_every_sidebar_page(site):
    out, manifest = site
    assert [p['file'] for p in manifest['pages']] == SIDEBAR, 'the site is not built from the current sidebar.yml'
    for p in manifest['pages']: assert (out / p['href']).is_file(), p['href']
    assert manifest['pages'][0]['href'] == 'index.html', 'the home page (index.ipynb) must come first in sidebar.yml'
    assert set(SIDEBAR) == {p.name for p in NBS.glob('*.ipynb')}, 'sidebar.yml and the notebooks in nbs/ differ'

PAGE_JS = r'''() => {
  const main = document.querySelector('main.content');
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, math, script, style').forEach(e => e.remove());
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    h1: (document.querySelector('h1.title') || {}).textContent,
    text: clone.innerText,
    math: [...main.querySelectorAll('math')].map(m => ({box: box(m), merror: m.querySelectorAll('merror').length})),
    rawMathSpans: main.querySelectorAll('span.math:not(:has(math))').length,
    images: [...main.querySelectorAll('.cell-output-display img')].map(i => ({ok: i.complete && i.naturalWidth > 0,
                                                                           w: i.getBoundingClientRect().width})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    sidebar: [...document.querySelectorAll('nav.sidebar a')].map(a => ({href: a.getAttribute('href'),
                                                                      active: a.classList.contains('active')})),
    prev: (document.querySelector('.page-navigation a.prev') || {}).getAttribute?.('href') ?? null,
    next: (document.querySelector('.page-navigation a.next') || {}).getAttribute?.('href') ?? null,
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    emptyBlocks: [...main.querySelectorAll('pre, .cell-output')].filter(e => !e.textContent.trim() && !e.querySelector('img, math, svg, table')).length,
  };
}'''
# an API entry: nbdev's anchor is a heading, and a heading named after the function is followed by its signature
# (when the prose has a heading of the same name, the anchor lands on it and show_doc's heading gets "<id>-1")
HEADING_JS = '''([id, name]) => {
  const e = document.getElementById(id);
  const sig = h => { const n = h.nextElementSibling; return !!n && (n.tagName === 'PRE' || !!n.querySelector('pre')); };
  const entries = [...document.querySelectorAll('main h2, main h3, main h4')].filter(h => h.textContent.trim() === name && sig(h));
  return {anchor: e ? e.tagName : null, entries: entries.length}; }'''

def _open(browser, url):
    "A page loaded from the local server, with every console error, failed and off-machine request recorded."
    page = browser.new_page(viewport={'width': 1400, 'height': 900})
    page.set_default_timeout(30_000)
    problems = []
    page.on('console', lambda m: m.type == 'error' and problems.append(f'console error: {m.text}'))
    page.on('pageerror', lambda e: problems.append(f'page error: {e}'))
    page.on('requestfailed', lambda r: problems.append(f'request failed: {r.url} {r.failure}'))
    page.on('response', lambda r: r.status >= 400 and problems.append(f'HTTP {r.status}: {r.url}'))
    def route(r):
        if urlparse(r.request.url).hostname == '127.0.0.1': r.continue_()
        else: problems.append(f'off-machine request: {r.request.url}'); r.abort()
    page.route('**/*', route)
    resp = page.goto(url, wait_until='load')
    assert resp is not None and resp.status == 200, f'{url}: HTTP {resp and resp.status}'
    page.wait_for_load_state('networkidle')
    return page, problems

@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_page(nb_file, site, server, browser):
    out, manifest = site
    pages = manifest['pages']
    i = next((i for i, p in enumerate(pages) if p['file'] == nb_file), None)
    assert i is not None, f'{nb_file} is in sidebar.yml but not in the built site: rebuild with python tools/site.py build'
    p = pages[i]
    page, problems = _open(browser, server + p['href'])
    try:
        info = page.evaluate(PAGE_JS)
        want = expected(nb_file)

        # title: "<notebook title> – <site title>" (the home page: the site title), and the page's heading
        assert page.title() == p['pagetitle']
        assert info['h1'] == p['title']

        # math: every span became MathML that takes up space; nothing raw is left in the visible text
        assert len(info['math']) >= want['math'], f'{len(info["math"])} math elements, the notebook has {want["math"]}'
        if want['math']: assert info['math'], 'the notebook has math but the page shows none'
        for j, m in enumerate(info['math']):
            assert m['box'][0] > 0 and m['box'][1] > 0, f'math element {j} is not rendered (size {m["box"]})'
            assert m['merror'] == 0, f'math element {j} has a MathML error'
        assert info['rawMathSpans'] == 0
        text = info['text']
        assert '$$' not in text, 'raw $$ left in the page text'
        raw_inline = re.findall(r'(?<![\\$\w])\$(?=\S)[^$\n]{1,80}?(?<=\S)\$(?!\d)', text)
        assert not raw_inline, f'raw inline math left in the page text: {raw_inline[:3]}'
        raw_tex = re.findall(r'\\(?:frac|sum|partial|mathbf|cdot|times|begin|left|right|sqrt|text)\b', text)
        assert not raw_tex, f'raw TeX commands left in the page text: {raw_tex[:5]}'

        assert info['emptyBlocks'] == 0, f'{info["emptyBlocks"]} empty code or output blocks'

        # hidden cells are hidden: no `#|` directive and no code line of a hidden cell shows
        full_text = page.evaluate("document.querySelector('main.content').innerText")
        assert not re.search(r'^#\|', full_text, re.M), 'a #| directive shows on the page'
        leaked = [l for l in want['hidden_lines'] if l in full_text]
        assert not leaked, f'code of hidden cells shows on the page: {leaked[:3]}'

        # plots: as many loaded images as the notebook has image outputs in shown cells
        assert len(info['images']) == want['images'], f'{len(info["images"])} images, the notebook has {want["images"]} plots'
        for j, im in enumerate(info['images']): assert im['ok'] and im['w'] > 50, f'image {j} did not load or is tiny'

        # API reference: every exported function/class has its show_doc entry (a heading with nbdev's anchor,
        # followed by the signature), and nbdev's links to it land on this page
        if want['module']:
            top, exported = api_entries(want['module'])
            for name in exported:
                if name.isupper(): continue  # constants are documented in the prose
                assert name in top, f'{name} is exported but nbdev has no docs entry for it (is it defined in an exported cell?)'
            for name, target in top.items():
                href, _, anchor = target.partition('#')
                assert href == p['href'], f'nbdev links {name} to {href}, not to this page {p["href"]}'
                h = page.evaluate(HEADING_JS, [anchor, name])
                assert h['anchor'] in ('H2', 'H3', 'H4'), f'nbdev\'s link to {name} (#{anchor}) finds no heading on the page'
                assert h['entries'] == 1, f'{h["entries"]} API reference entries (heading + signature) for {name}'

        # navigation: the sidebar lists every page in order with this one active; previous/next follow that order
        assert [s['href'] for s in info['sidebar']] == [q['href'] for q in pages]
        assert [s['href'] for s in info['sidebar'] if s['active']] == [p['href']]
        assert info['prev'] == (pages[i - 1]['href'] if i else None)
        assert info['next'] == (pages[i + 1]['href'] if i + 1 < len(pages) else None)

        # every link on the page that stays on this site resolves: HTTP 200, and the anchor exists on the target
        dupes = {x for x in info['ids'] if info['ids'].count(x) > 1}
        assert not dupes, f'duplicate ids on the page: {sorted(dupes)[:5]}'
        nbdev_anchors = _nbdev_anchors()
        for link in sorted(set(info['links'])):
            if not link.startswith(server):
                assert urlparse(link).scheme in ('https', 'http', 'mailto'), f'odd link {link}'
                continue
            target, frag = urldefrag(link)
            status, ids = _ids(target)
            assert status == 200, f'link {link}: HTTP {status}'
            if frag and frag not in ids:
                if ('.' in frag or frag.startswith('_')) and frag in nbdev_anchors:
                    # nbdev links every backticked name it knows, methods and private helpers included, but makes
                    # API entries only for public functions and classes: such a link lands at the top of the page
                    # (on the Quarto site too). A `show_doc(Class.method)` cell gives it an entry.
                    warnings.warn(f'{p["href"]}: nbdev link to {urlparse(link).path.lstrip("/")}#{frag} has no entry '
                                  f'to land on (add show_doc for it, or drop the backticks)')
                    continue
                raise AssertionError(f'link {link}: no element with id "{frag}" on {target}')
            assert not target.endswith('.ipynb'), f'link {link} points at a notebook, not a page'
        assert not problems, '\n'.join(problems)
    finally:
        page.close()

def test_screenshots_and_layout(site, server, browser):
    "Screenshots for a person to look at, and the layout facts that make a page readable."
    out, manifest = site
    shots = out / 'screenshots'
    shots.mkdir(exist_ok=True)
    pages = manifest['pages']
    nb_page = next((p for p in pages if p['file'] == '01_matmul.ipynb'), pages[-1])
    for p, name in [(pages[0], 'home'), (nb_page, Path(nb_page['href']).stem)]:
        page, problems = _open(browser, server + p['href'])
        try:
            page.screenshot(path=str(shots / f'{name}.png'))
            m = page.evaluate('''() => {
              const r = s => { const e = document.querySelector(s); if (!e) return null;
                               const b = e.getBoundingClientRect(); return {x: b.x, w: b.width, h: b.height}; };
              const pre = document.querySelector('main div.sourceCode, main pre');
              return {main: r('main.content'), sidebar: r('nav.sidebar'), math: r('main math'),
                      img: r('main .cell-output-display img'),
                      codeBg: pre ? getComputedStyle(pre).backgroundColor : null,
                      fontSize: parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)}; }''')
            assert 500 <= m['main']['w'] <= 1000, f'{p["href"]}: text column {m["main"]["w"]}px wide'
            assert m['sidebar'] and m['sidebar']['w'] > 100 and m['sidebar']['x'] < m['main']['x'], 'no sidebar left of the text'
            assert 14 <= m['fontSize'] <= 20
            if m['codeBg']: assert m['codeBg'] not in ('rgba(0, 0, 0, 0)', 'transparent'), 'code blocks are not styled'
            if m['img']:
                page.evaluate("document.querySelector('main .cell-output-display img').scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shots / f'{name}-plot.png'))
            if m['math']:
                page.evaluate("(document.querySelector('main math[display=block]') || document.querySelector('main math'))"
                              ".scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shots / f'{name}-math.png'))
            assert not problems, '\n'.join(problems)
        finally:
            page.close()
    for f in ['home.png', Path(nb_page['href']).stem + '.png']:
        assert (shots / f).stat().st_size > 10_000, f'{f} looks empty'


# ---------------------------------------------------------------- the builder itself, without a browser

def _cell(src, outputs=()):
    return {'cell_type': 'code', 'execution_count': 1, 'metadata': {}, 'source': src, 'outputs': list(outputs)}

def test_quarto_cell_options_are_applied():
    png = {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': 'iVBOR', 'text/plain': '<Figure>'}}
    out = lambda t: {'output_type': 'stream', 'name': 'stdout', 'text': t}
    err = {'output_type': 'stream', 'name': 'stderr', 'text': 'a warning'}
    md = {'output_type': 'execute_result', 'execution_count': 3, 'metadata': {},
          'data': {'text/markdown': '### f\n\n```python\ndef f(x)\n```', 'text/plain': 'f'}}
    nb = {'cells': [
        {'cell_type': 'raw', 'metadata': {}, 'source': '---\ntitle: T\ndescription: D\noutput-file: t.html\n---\n'},
        _cell('#| include: false\nsecret_setup()', [out('nothing')]),
        _cell('#| hide\nalso_secret()'),
        _cell('#| echo: false\nplot()', [png]),
        _cell('#| output: false\nshown_code()', [out('hidden output')]),
        _cell('#| warning: false\nnoisy()', [out('kept'), err]),
        _cell('#| echo: false\n#| output: asis\nshow_doc(f)', [md]),
        _cell('#| code-fold: true\n#| code-summary: "Plot code"\nlong_plot()', [png]),
        _cell('plain()', [png, out('x')]),
    ], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    prepared, front = sitebuilder.prepare(nb)
    assert front == {'title': 'T', 'description': 'D', 'output-file': 't.html'}
    cells = prepared['cells']
    srcs = [c['source'] for c in cells]
    assert not any('secret' in s for s in srcs), 'include: false / hide cells must be dropped'
    assert srcs[0] == '' and cells[0]['outputs'][0]['data'] == {'image/png': 'iVBOR'}, 'echo: false keeps the plot only'
    assert srcs[1] == 'shown_code()' and cells[1]['outputs'] == [], 'output: false drops the outputs'
    assert [o['name'] for o in cells[2]['outputs']] == ['stdout'], 'warning: false drops stderr'
    assert cells[3]['cell_type'] == 'markdown' and cells[3]['source'].startswith('### f'), 'output: asis becomes page text'
    assert cells[4]['metadata'] == {'code-fold': 'true', 'code-summary': 'Plot code'}
    assert [list(o['data']) for o in cells[5]['outputs'] if 'data' in o] == [['image/png']], 'one representation per output'
    assert all(not s.startswith('#|') for s in srcs)

def test_missing_notebook_fails_clearly(tmp_path, monkeypatch):
    for f in ['_quarto.yml', 'nbdev.yml', 'styles.css']: shutil.copy(NBS / f, tmp_path / f)
    (tmp_path / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - index.ipynb\n      - 09_missing.ipynb\n')
    shutil.copy(NBS / 'index.ipynb', tmp_path / 'index.ipynb')
    monkeypatch.setattr(sitebuilder, 'NBS', tmp_path)
    with pytest.raises(sitebuilder.SiteError, match='sidebar.yml lists 09_missing.ipynb but nbs/ has no such notebook'):
        sitebuilder.build(tmp_path / 'out', proc=False, quiet=True)

def test_pipeline_without_nbdev(tmp_path, monkeypatch):
    "pandoc + template + filter on a small processed notebook: folding, math, links, unique ids, one MIME type."
    nbs, proc = tmp_path / 'nbs', tmp_path / '_proc'
    nbs.mkdir(); proc.mkdir()
    for f in ['_quarto.yml', 'nbdev.yml', 'styles.css']: shutil.copy(NBS / f, nbs / f)
    (nbs / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - index.ipynb\n      - 01_a.ipynb\n')
    front = lambda t, f: {'cell_type': 'raw', 'metadata': {}, 'source': f'---\ntitle: {t}\noutput-file: {f}\n---\n'}
    md = lambda t: {'cell_type': 'markdown', 'metadata': {}, 'source': t}
    png = {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'text/plain': '<Figure size 1x1>'}}
    notebooks = {
        'index.ipynb': [front('Home', 'index.html'), md('See [the first page](01_a.ipynb#f) and $x^2$.')],
        '01_a.ipynb': [front('A page', 'a.html'), md('## f\n\n$$\\sum_i x_i$$'), md('### f'),
                       _cell('#| code-fold: true\n#| code-summary: "Plot code"\nplot()', [png]),
                       _cell('expr', [{'output_type': 'execute_result', 'execution_count': 2, 'metadata': {},
                                       'data': {'text/latex': '$\\displaystyle \\sigma_{w}^{2}$', 'text/plain': 's'}}])],
    }
    for name, cells in notebooks.items():
        nb = {'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
        (nbs / name).write_text(json.dumps(nb)); (proc / name).write_text(json.dumps(nb))
    monkeypatch.setattr(sitebuilder, 'NBS', nbs)
    monkeypatch.setattr(sitebuilder, 'PROC', proc)
    res = sitebuilder.build(tmp_path / 'site', proc=False, quiet=True)
    assert res['pages'] == 2
    home, page = ((tmp_path / 'site' / f).read_text() for f in ('index.html', 'a.html'))
    assert '<title>Home – foundations</title>' in home and 'href="a.html#f"' in home and '<math' in home and '$' not in home
    assert '<details class="code-fold"><summary>Plot code</summary>' in page
    assert page.count('id="f"') == 1 and 'id="f-1"' in page, 'repeated heading ids are numbered'
    assert page.count('<img') == 1 and '&lt;Figure' not in page, 'the plot, not also its text/plain'
    assert page.count('<math display="block"') == 2, 'the $$ in markdown and the text/latex result'
    assert 'class="cell-output cell-output-display"' in page
