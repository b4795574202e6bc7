"""The documentation site in a real browser: headless Chromium loads every page from a local HTTP server.

The site is built by `python tools/site.py build` into `_site_local/` (this module builds it when it is missing or
older than the notebooks). For every page the sidebar lists, the browser checks: no console errors, no failed or
off-machine requests, the page title, math rendered (at least as many MathML elements as the notebook has math spans,
each with a size, no raw `$...$` or TeX commands left in the text), hidden cells hidden, the plots of the notebook
present as loaded images, an API reference entry for every function and class the page's module exports, and that
every link on the page (sidebar, previous/next, table of contents, links between notebooks) leads to a page that
exists and to an anchor on it. Then what a reader needs (issue 17): every API entry has a real signature and a
parameter table with a description of every parameter, every plot has alt text, copy buttons, heading anchors,
"view source" and "report an issue" links; at 360 and 400 px no page is wider than the screen, code never wraps, the
sidebar and table of contents are menus and the title starts near the top; Pagefind's search finds every page; the
table of contents marks the section being read. No request may leave 127.0.0.1. Screenshots go to
`_site_local/screenshots/`. Tests without a browser check how the builder applies Quarto's cell options, renders API
entries and runs the whole pipeline on a small site. Browser tests carry the `browser` mark (`pytest -m "not browser"`
leaves them out). To test a site as it is (say one built with `--only`), set FOUNDATIONS_SITE_NO_BUILD=1 (and
FOUNDATIONS_SITE_DIR).

Chromium: Debian's `/usr/bin/chromium` (or `$CHROMIUM`); the Python `playwright` package drives it, no browser is
downloaded. Without a browser the tests are skipped on a workstation, but they FAIL when `CI` is set (GitHub Actions
sets it, `.ci/run` sets it) or `FOUNDATIONS_REQUIRE_BROWSER=1`: in CI a missing browser is an error, not a skip.
"""
import functools
import http.server
import importlib
import json
import os
import re
import shutil
import sys
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

sys.path.insert(0, str(ROOT))  # the project root, so that the docs tooling in tools/ is importable
from tools import docsite  # noqa: E402
from tools.docsite import apidoc, checks  # noqa: E402

# the pages the site has: every notebook the sidebar lists that exists (a listed notebook being written is skipped)
SIDEBAR = [f for _, f in docsite.sidebar_pages(docsite.load_config()) if (NBS / f).exists()]
browser_test = pytest.mark.browser


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
    inputs = [*NBS.glob('*.ipynb'), *NBS.glob('*.yml'), *NBS.glob('*.css'), *(ROOT / 'tools' / 'docsite').rglob('*.*')]
    built = json.loads(manifest.read_text())
    return max(p.stat().st_mtime for p in inputs) > manifest.stat().st_mtime or \
        [p['file'] for p in built['pages']] != SIDEBAR

@pytest.fixture(scope='session')
def site():
    "The built site: its folder and manifest (pages in sidebar order), built now if missing or out of date."
    if os.environ.get('FOUNDATIONS_SITE_NO_BUILD') != '1' and _stale(SITE): docsite.build(SITE, quiet=True)
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

def _modidx():
    "nbdev's index of the library (names -> page#anchor), from the installed package, like the modules' `__all__`."
    return importlib.import_module('foundations._modidx').d

def api_entries(module):
    "Anchors nbdev gives the module's top-level functions and classes (from `_modidx.py`), and those of `__all__`."
    syms = _modidx()['syms'].get(f'foundations.{module}', {})
    prefix = f'foundations.{module}.'
    top = {k[len(prefix):]: v[0] for k, v in syms.items() if '.' not in k[len(prefix):] and not k[len(prefix):].startswith('_')}
    return top, checks.documented_names(f'foundations.{module}')


def _nbdev_anchors():
    "Every anchor nbdev's `_modidx.py` links to, methods and private names included."
    return {v[0].partition('#')[2] for syms in _modidx()['syms'].values() for v in syms.values()}


# ---------------------------------------------------------------- the tests

def test_sidebar_lists_every_notebook_in_course_order():
    assert checks.sidebar_problems(docsite.load_config()) == []

@browser_test  # builds the whole site (no browser, but part of the site's suite that `-m "not browser"` leaves out)
def test_site_has_every_sidebar_page(site):
    out, manifest = site
    assert [p['file'] for p in manifest['pages']] == SIDEBAR, 'the site is not built from the current sidebar.yml'
    for p in manifest['pages']: assert (out / p['href']).is_file(), p['href']
    assert manifest['pages'][0]['href'] == 'index.html', 'the home page (index.ipynb) must come first in sidebar.yml'
    assert (out / 'pagefind' / 'pagefind-ui.js').is_file(), 'no Pagefind search bundle in the site'

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

def _open(browser, url, width=1400, height=900, context=None):
    "A page loaded from the local server, with every console error, failed and off-machine request recorded."
    page = context.new_page() if context else browser.new_page()
    page.set_viewport_size({'width': width, 'height': height})
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

@pytest.fixture(scope='session')
def opened(site, server, browser):
    "`opened(nb_file, width)`: the page of a notebook loaded once per width for the whole session, and its problems."
    cache = {}
    hrefs = {p['file']: p['href'] for p in site[1]['pages']}
    def get(nb_file, width=1400):
        if (nb_file, width) not in cache:
            assert nb_file in hrefs, f'{nb_file} is in sidebar.yml but not in the built site: python tools/site.py build'
            cache[nb_file, width] = _open(browser, server + hrefs[nb_file], width=width, height=860)
        return cache[nb_file, width]
    yield get
    for page, _ in cache.values(): page.close()

@browser_test
@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_page(nb_file, site, server, opened):
    out, manifest = site
    pages = manifest['pages']
    i = next(i for i, p in enumerate(pages) if p['file'] == nb_file)
    p = pages[i]
    page, problems = opened(nb_file)
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

    # conveniences: a copy button on every code block, an anchor on every section heading, the page's notebook on
    # the repository ("view source") and "report an issue"
    c = page.evaluate(CONVENIENCES_JS)
    assert c['code'] and c['copy'] == c['code'], f'{c["copy"]} copy buttons for {c["code"]} code blocks'
    assert c['anchors'] == c['headings'] and c['badAnchors'] == [], f'heading anchors: {c}'
    repo = docsite.config.repo_links(docsite.load_config())
    assert c['source'] == f'{repo["url"]}/blob/{repo["branch"]}/nbs/{nb_file}', f'view source links to {c["source"]}'
    assert c['issue'] and c['issue'].startswith(f'{repo["url"]}/issues/new'), f'report an issue links to {c["issue"]}'

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

CONVENIENCES_JS = r'''() => {
  const main = document.querySelector('main.content');
  const heads = [...main.querySelectorAll('h2[id], h3[id], h4[id]')];
  return {
    code: main.querySelectorAll('div.sourceCode').length,
    copy: main.querySelectorAll('div.sourceCode > button.copy-button').length,
    headings: heads.length,
    anchors: heads.filter(h => h.querySelector(':scope > a.anchor')).length,
    badAnchors: heads.filter(h => { const a = h.querySelector(':scope > a.anchor');
                                    return a && a.getAttribute('href') !== '#' + h.id; }).map(h => h.id),
    source: (document.querySelector('a.view-source') || {}).href || null,
    issue: (document.querySelector('a.report-issue') || {}).href || null,
  };
}'''

# every API entry: heading, signature, and (when the signature has parameters) the parameter table after it
API_JS = r'''() => [...document.querySelectorAll('main h2, main h3, main h4')].flatMap(h => {
  const sig = h.nextElementSibling;
  if (!sig || !sig.matches('div.sourceCode') || !/^(async def|def|class) /.test(sig.innerText.trim())) return [];
  let n = sig.nextElementSibling, table = null;
  while (n && !/^H[1-4]$/.test(n.tagName) && n.tagName !== 'HR' && !table) {
    table = n.matches('.api-params') ? n : n.querySelector('.api-params'); n = n.nextElementSibling; }
  const rows = table ? [...table.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim())) : null;
  return [{name: h.firstChild.textContent.trim(), sig: sig.innerText.trim(), rows}];
})'''

def _sig_params(sig):
    "Parameter names in a rendered signature `def f(a: int = 1, *args, **kw) -> T` (`*` and `/` markers left out)."
    inner = sig[sig.index('(') + 1:sig.rindex(')')]
    names, depth, cur = [], 0, ''
    for ch in inner + ',':
        if ch in '([{': depth += 1
        elif ch in ')]}': depth -= 1
        if ch == ',' and depth == 0:
            nm = re.match(r'\s*(\*{0,2}\w+)', cur)
            if nm: names.append(nm.group(1))
            cur = ''
        else: cur += ch
    return names

@browser_test
@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_api_reference(nb_file, opened):
    "Every API entry: a real signature (no `*args, **kwargs`, no `NoneType`) and a table describing every parameter."
    page, _ = opened(nb_file)
    entries = page.evaluate(API_JS)
    module = expected(nb_file)['module']
    if module: assert entries, 'the page has API entries but none was found'
    bad = []
    for e in entries:
        if re.search(r'\(\s*\*args,\s*\*\*kwargs\s*\)', e['sig']): bad.append(f'{e["name"]}: signature is (*args, **kwargs)')
        if 'NoneType' in e['sig']: bad.append(f'{e["name"]}: NoneType in the signature')
        params = _sig_params(e['sig'])
        if not params and '->' not in e['sig']: continue
        if e['rows'] is None: bad.append(f'{e["name"]}: no parameter table'); continue
        got = [r[0] for r in e['rows']]
        if got[:len(params)] != params: bad.append(f'{e["name"]}: the table lists {got}, the signature {params}')
        undocumented = [r[0] for r in e['rows'] if not r[-1]]
        if undocumented: bad.append(f'{e["name"]}: no description for {", ".join(undocumented)}')
        if any('NoneType' in c for r in e['rows'] for c in r): bad.append(f'{e["name"]}: NoneType in the table')
    assert not bad, f'{len(bad)} of {len(entries)} API entries are incomplete:\n' + '\n'.join(bad)

@browser_test
@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_plots_have_alt_text(nb_file, opened):
    "Every plot has alt text (from the cell's `#| fig-alt:`) and is shown at least 3/4 of its drawn size on a desktop."
    page, _ = opened(nb_file)
    imgs = page.evaluate('''() => [...document.querySelectorAll('main img')].map(i => ({src: i.getAttribute('src'),
        alt: (i.getAttribute('alt') || '').trim(), scale: i.getBoundingClientRect().width / i.naturalWidth}))''')
    no_alt = [i['src'] for i in imgs if not i['alt']]
    assert not no_alt, f'{len(no_alt)} of {len(imgs)} plots have no alt text (add `#| fig-alt: ...` to the cell): {no_alt}'
    small = [f'{i["src"]} at {i["scale"]:.2f}' for i in imgs if i['scale'] < 0.75]
    assert not small, f'plots shrunk below 3/4 of their size, their labels get small (draw them <= 8 in wide): {small}'

PHONE_JS = r'''() => {
  const de = document.documentElement, vis = e => !!e && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().width > 0;
  const pres = [...document.querySelectorAll('main pre')];
  const boxes = [...document.querySelectorAll('main table, main math[display="block"]')].map(e => {
    let b = e; while (b && b !== de && !['auto', 'scroll'].includes(getComputedStyle(b).overflowX)) b = b.parentElement;
    return {what: e.tagName, scrolls: !!b && b !== de, right: (b && b !== de ? b : e).getBoundingClientRect().right};
  });
  return {
    width: de.scrollWidth, viewport: window.innerWidth,
    wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
            && !e.closest('pre, .table-wrap, table, span.math, .sidebar, .toc, .search-panel'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className),
    wrapping: pres.filter(p => getComputedStyle(p).whiteSpace !== 'pre' ||
            !['auto', 'scroll'].includes(getComputedStyle(p).overflowX)).length,
    pres: pres.length,
    boxes,
    titleTop: document.querySelector('h1.title').getBoundingClientRect().top,
    navbarHeight: document.querySelector('.navbar').getBoundingClientRect().height,
    sidebarShown: vis(document.querySelector('nav.sidebar')), tocShown: vis(document.querySelector('nav.toc')),
    menuButton: vis(document.querySelector('.menu-toggle')), tocButton: vis(document.querySelector('.toc-toggle')),
  };
}'''

@browser_test
@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_phone_layout(nb_file, opened):
    "At 400 and 360 px: nothing scrolls the page sideways, code keeps its lines, menus replace the side columns."
    page, problems = opened(nb_file, 400)
    for width in (400, 360):
        page.set_viewport_size({'width': width, 'height': 800})
        m = page.evaluate(PHONE_JS)
        assert m['width'] <= m['viewport'], f'at {width}px the page is {m["width"]}px wide: {m["wide"]}'
        assert m['wrapping'] == 0, f'{m["wrapping"]} of {m["pres"]} code blocks wrap or do not scroll'
        stuck = [b for b in m['boxes'] if not b['scrolls'] and b['right'] > width]
        assert not stuck, f'tables or equations wider than the screen without their own scroll box: {stuck}'
        assert m['titleTop'] < 120, f'the title starts {m["titleTop"]:.0f}px down'
        assert m['navbarHeight'] < 64, f'the navbar is {m["navbarHeight"]:.0f}px high (it wraps)'
        assert not m['sidebarShown'] and m['menuButton'], 'the sidebar is not behind a menu button'
        if page.query_selector('nav.toc'): assert not m['tocShown'] and m['tocButton'], 'no "On this page" menu'
    assert not problems, '\n'.join(problems)

@browser_test
def test_phone_menus_open_and_close(opened):
    page, _ = opened('01_matmul.ipynb', 400)
    page.set_viewport_size({'width': 400, 'height': 800})
    page.click('.menu-toggle')
    assert page.is_visible('nav.sidebar a.active'), 'the menu button does not show the pages'
    page.keyboard.press('Escape')
    assert not page.is_visible('nav.sidebar'), 'Escape does not close the pages menu'
    page.click('.toc-toggle')
    link = page.query_selector('nav.toc a[href^="#"]')
    assert link.is_visible(), '"On this page" does not show the table of contents'
    link.click()
    assert not page.is_visible('nav.toc'), 'following a link in the table of contents leaves the menu open'

@browser_test
def test_desktop_code_does_not_wrap(opened):
    page, _ = opened('01_matmul.ipynb')
    m = page.evaluate(PHONE_JS)
    assert m['pres'] and m['wrapping'] == 0, f'{m["wrapping"]} of {m["pres"]} code blocks wrap'
    assert m['width'] <= m['viewport']
    assert m['sidebarShown'] and m['tocShown'] and not m['menuButton'] and not m['tocButton']

def _page_words(html_text):
    main = re.search(r'<main[^>]*>(.*)</main>', html_text, re.S).group(1)
    main = re.sub(r'<(script|style|math)\b.*?</\1>', ' ', main, flags=re.S)
    return re.findall(r'[A-Za-z]{7,}', re.sub(r'<[^>]+>', ' ', main).lower())

@functools.lru_cache(maxsize=None)
def search_terms(site_dir):
    "For each page, a word of its text that no other page has (its most frequent such word)."
    manifest = json.loads((Path(site_dir) / 'site.json').read_text())
    words = {p['href']: _page_words((Path(site_dir) / p['href']).read_text()) for p in manifest['pages']}
    out = {}
    for href, ws in words.items():
        others = {w for h, o in words.items() if h != href for w in o}
        own = [w for w in ws if w not in others]
        out[href] = max(set(own), key=own.count) if own else None
    return out

SEARCH_JS = '''async (term) => {
  const pagefind = await import('/pagefind/pagefind.js');
  const r = await pagefind.search(term);
  return Promise.all(r.results.map(async x => (await x.data()).url));
}'''

@browser_test
@pytest.mark.parametrize('nb_file', SIDEBAR)
def test_search_finds_the_page(nb_file, site, opened):
    "Pagefind's index, searched in the browser, finds each page by a word only that page has."
    out, manifest = site
    href = next(p['href'] for p in manifest['pages'] if p['file'] == nb_file)
    term = search_terms(str(out))[href]
    assert term, f'{href} has no word of its own to search for'
    page, problems = opened('index.ipynb')
    urls = [u + 'index.html' if u.endswith('/') else u for u in page.evaluate(SEARCH_JS, term)]  # Pagefind's "/" is index.html
    assert '/' + href in urls, f'searching "{term}" finds {urls}'
    assert not problems, '\n'.join(problems)

@browser_test
def test_search_box(site, server, browser):
    "The search button opens Pagefind's own UI; typing a word lists the page that has it, all from 127.0.0.1."
    out, manifest = site
    href = next(p['href'] for p in manifest['pages'] if p['file'] == '01_matmul.ipynb')
    page, problems = _open(browser, server + 'index.html')
    try:
        page.click('.search-toggle')
        page.fill('#search input', search_terms(str(out))[href])
        page.wait_for_selector('.pagefind-ui__result-link')
        links = page.eval_on_selector_all('.pagefind-ui__result-link', 'els => els.map(e => e.getAttribute("href"))')
        assert any(l.endswith('/' + href) for l in links), links
        page.keyboard.press('Escape')
        assert not page.is_visible('#search-panel')
        assert not problems, '\n'.join(problems)
    finally: page.close()

@browser_test
def test_copy_button_copies_the_code(site, server, browser):
    ctx = browser.new_context(permissions=['clipboard-read', 'clipboard-write'])
    try:
        page, problems = _open(browser, server + 'matmul.html', context=ctx)
        block = page.query_selector('main div.sourceCode')
        block.hover(); block.query_selector('button.copy-button').click()
        page.wait_for_function("document.querySelector('main div.sourceCode button').textContent === 'Copied'")
        got = page.evaluate('navigator.clipboard.readText()')
        assert got == block.query_selector('pre').inner_text().rstrip('\n')
        assert not problems, '\n'.join(problems)
    finally: ctx.close()

@browser_test
def test_table_of_contents_follows_the_reader(opened):
    "Scroll spy: after scrolling to a section, its entry in the table of contents is the highlighted one."
    page, _ = opened('01_matmul.ipynb')
    ids = page.eval_on_selector_all('nav.toc a[href^="#"]', 'els => els.map(e => e.getAttribute("href").slice(1))')
    assert len(ids) > 3
    for target in (ids[2], ids[len(ids) // 2]):
        page.evaluate('id => document.getElementById(id).scrollIntoView({block: "start"})', target)
        page.wait_for_timeout(150)
        active = page.eval_on_selector_all('nav.toc a.active', 'els => els.map(e => e.getAttribute("href").slice(1))')
        assert active == [target], f'scrolled to #{target}, the table of contents marks {active}'

@browser_test
def test_screenshots_and_layout(site, server, browser):
    "Screenshots for a person to look at (1280 and 400 px), and the layout facts that make a page readable."
    out, manifest = site
    shots = out / 'screenshots'
    shots.mkdir(exist_ok=True)
    pages = manifest['pages']
    nb_page = next((p for p in pages if p['file'] == '01_matmul.ipynb'), pages[-1])
    for p, name in [(pages[0], 'home'), (nb_page, Path(nb_page['href']).stem)]:
        page, problems = _open(browser, server + p['href'], width=1280)
        try:
            page.screenshot(path=str(shots / f'{name}.png'))
            m = page.evaluate('''() => {
              const r = s => { const e = document.querySelector(s); if (!e) return null;
                               const b = e.getBoundingClientRect(); return {x: b.x, w: b.width, h: b.height}; };
              const pre = document.querySelector('main div.sourceCode, main pre');
              const h3code = document.querySelector('main h3 code');
              return {main: r('main.content'), sidebar: r('nav.sidebar'), math: r('main math'),
                      img: r('main .cell-output-display img'),
                      codeBg: pre ? getComputedStyle(pre).backgroundColor : null,
                      h3code: h3code ? parseFloat(getComputedStyle(h3code).fontSize) : null,
                      fontSize: parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)}; }''')
            assert 500 <= m['main']['w'] <= 1000, f'{p["href"]}: text column {m["main"]["w"]}px wide'
            assert m['sidebar'] and m['sidebar']['w'] > 100 and m['sidebar']['x'] < m['main']['x'], 'no sidebar left of the text'
            assert 14 <= m['fontSize'] <= 20
            if m['h3code']: assert m['h3code'] >= 18, f'code in headings is {m["h3code"]}px'
            if m['codeBg']: assert m['codeBg'] not in ('rgba(0, 0, 0, 0)', 'transparent'), 'code blocks are not styled'
            if m['img']:
                page.evaluate("document.querySelector('main .cell-output-display img').scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shots / f'{name}-plot.png'))
            if m['math']:
                page.evaluate("(document.querySelector('main math[display=block]') || document.querySelector('main math'))"
                              ".scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shots / f'{name}-math.png'))
            page.set_viewport_size({'width': 400, 'height': 860})
            page.evaluate('window.scrollTo(0, 0)')
            page.screenshot(path=str(shots / f'{name}-400.png'))
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
        _cell('#| code-fold: true\n#| code-summary: "Plot code"\n#| fig-alt: A line rising\nlong_plot()', [png]),
        _cell('plain()', [png, out('x')]),
    ], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    prepared, front = docsite.prepare(nb)
    assert front == {'title': 'T', 'description': 'D', 'output-file': 't.html'}
    cells = prepared['cells']
    srcs = [c['source'] for c in cells]
    assert not any('secret' in s for s in srcs), 'include: false / hide cells must be dropped'
    assert srcs[0] == '' and cells[0]['outputs'][0]['data'] == {'image/png': 'iVBOR'}, 'echo: false keeps the plot only'
    assert srcs[1] == 'shown_code()' and cells[1]['outputs'] == [], 'output: false drops the outputs'
    assert [o['name'] for o in cells[2]['outputs']] == ['stdout'], 'warning: false drops stderr'
    assert cells[3]['cell_type'] == 'markdown' and cells[3]['source'].startswith('### f'), 'output: asis becomes page text'
    assert cells[4]['metadata'] == {'code-fold': 'true', 'code-summary': 'Plot code', 'fig-alt': 'A line rising'}
    assert [list(o['data']) for o in cells[5]['outputs'] if 'data' in o] == [['image/png']], 'one representation per output'
    assert all(not s.startswith('#|') for s in srcs)

API_MODULE = '''
from typing import Optional
import torch
from torch import Tensor

def lin(x: Tensor,  # inputs, shape (n, n_in)
        w: Tensor,  # weights, shape (n_in, n_out)
        b: Tensor | None = None,  # bias, shape (n_out,)
        scale=None,  # a factor, or None for 1
       ) -> Tensor:  # shape (n, n_out)
    "A linear layer."
    return x @ w

class Layer:
    "A layer that keeps its weights."
    def __init__(self, w: Tensor,  # the weights
                 generator: Optional[torch.Generator] = None,  # random numbers
                 ): self.w = w
'''

def test_api_entries_show_signature_and_parameter_table(tmp_path, monkeypatch):
    (tmp_path / 'apimod.py').write_text(API_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    nbdev_md = '---\n\n[source](https://x/apimod.py#L5){target="_blank"}\n\n### lin\n\n```python\ndef lin(\n    x:Tensor, scale:NoneType=None\n)\n```'
    md = apidoc.entry('lin', 'apimod', nbdev_md)
    assert md.startswith('---\n\n[source](https://x/apimod.py#L5){target="_blank"}\n\n### lin\n')
    assert '```python\ndef lin(x: Tensor, w: Tensor, b: Tensor | None = None, scale=None) -> Tensor\n```' in md
    assert 'NoneType' not in md and '*A linear layer.*' in md
    assert '| <code>b</code> | <code>Tensor &#124; None</code> | <code>None</code> | bias, shape (n_out,) |' in md
    assert '| <code>scale</code> |  | <code>None</code> | a factor, or None for 1 |' in md
    assert '| **Returns** | <code>Tensor</code> |  | shape (n, n_out) |' in md
    cls = apidoc.entry('Layer', 'apimod', '### Layer\n\nold')
    assert 'class Layer(w: Tensor, generator: Optional[Generator] = None)' in cls
    assert '| <code>generator</code> | <code>Optional[Generator]</code> | <code>None</code> | random numbers |' in cls
    # a name the library does not have keeps nbdev's entry, without its NoneType
    assert apidoc.entry('nothere', 'apimod', nbdev_md) == nbdev_md.replace(':NoneType=None', '=None')

def _small_site(tmp_path, notebooks, sidebar):
    nbs, proc = tmp_path / 'nbs', tmp_path / '_proc'
    nbs.mkdir(); proc.mkdir()
    for f in ['_quarto.yml', 'nbdev.yml', 'styles.css']: shutil.copy(NBS / f, nbs / f)
    (nbs / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n' + ''.join(f'      - {f}\n' for f in sidebar))
    for name, cells in notebooks.items():
        nb = {'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
        (nbs / name).write_text(json.dumps(nb)); (proc / name).write_text(json.dumps(nb))
    return nbs

def _front(t, f): return {'cell_type': 'raw', 'metadata': {}, 'source': f'---\ntitle: {t}\noutput-file: {f}\n---\n'}
def _md(t): return {'cell_type': 'markdown', 'metadata': {}, 'source': t}

def test_missing_notebook_is_skipped_with_a_warning(tmp_path, capsys):
    "A notebook the sidebar lists but nbs/ does not have yet (being written) is left out of the site, with a warning."
    nbs = _small_site(tmp_path, {'index.ipynb': [_front('Home', 'index.html'), _md('Hello')]},
                      ['index.ipynb', '09_missing.ipynb'])
    res = docsite.build(tmp_path / 'out', proc=False, nbs=nbs, search_index=False)
    assert res['pages'] == 1
    assert 'sidebar.yml lists 09_missing.ipynb but nbs/ has no such notebook: skipped' in capsys.readouterr().out
    assert checks.missing_notebooks(docsite.load_config(nbs), nbs) == ['09_missing.ipynb']

def test_pipeline_without_nbdev(tmp_path):
    "pandoc + template + filter + Pagefind on a small processed notebook: folding, math, links, ids, alt text, search."
    png = {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'text/plain': '<Figure size 1x1>'}}
    nbs = _small_site(tmp_path, {
        'index.ipynb': [_front('Home', 'index.html'), _md('See [the first page](01_a.ipynb#f) and $x^2$.')],
        '01_a.ipynb': [_front('A page', 'a.html'), _md('## f\n\n$$\\sum_i x_i$$'), _md('### f'),
                       _cell('#| code-fold: true\n#| code-summary: "Plot code"\n#| fig-alt: "One pixel, shown large"\nplot()', [png]),
                       _cell('expr', [{'output_type': 'execute_result', 'execution_count': 2, 'metadata': {},
                                       'data': {'text/latex': '$\\displaystyle \\sigma_{w}^{2}$', 'text/plain': 's'}}]),
                       _md('| a | b |\n|---|---|\n| 1 | 2 |')],
    }, ['index.ipynb', '01_a.ipynb'])
    res = docsite.build(tmp_path / 'site', proc=False, quiet=True, nbs=nbs)
    assert res['pages'] == 2
    site_dir = tmp_path / 'site'
    home, page = ((site_dir / f).read_text() for f in ('index.html', 'a.html'))
    assert '<title>Home – foundations</title>' in home and 'href="a.html#f"' in home and '<math' in home and '$' not in home
    assert '<details class="code-fold"><summary>Plot code</summary>' in page
    assert page.count('id="f"') == 1 and 'id="f-1"' in page, 'repeated heading ids are numbered'
    assert page.count('<img') == 1 and '&lt;Figure' not in page, 'the plot, not also its text/plain'
    assert 'alt="One pixel, shown large"' in page
    assert page.count('<math display="block"') == 2, 'the $$ in markdown and the text/latex result'
    assert page.count('<span class="math display"><math display="block"') == 2, 'display math in its own scroll box'
    assert 'class="cell-output cell-output-display"' in page
    assert '<div class="table-wrap">' in page, 'tables sit in a box that scrolls sideways'
    assert 'href="https://github.com/foundations-course/foundations/blob/main/nbs/01_a.ipynb"' in page
    assert 'class="report-issue"' in page and 'data-pagefind-body' in page
    assert (site_dir / 'pagefind' / 'pagefind-ui.js').is_file() and (site_dir / 'site.js').is_file()

def test_cells_nbdev_runs_for_the_docs_need_no_other_cell(tmp_path):
    "A cell with an import is run by nbdev's docs processing alone: using another cell's variable there is reported."
    cells = [_cell('#| export\ndef f(x): return x'), _cell('data = [1, 2]'),
             _cell('import math\nprint(math.pi, f(1))'),                    # fine: its own import and an export
             _cell('from statistics import mean\nprint(mean(data))'),     # data comes from a cell nbdev does not run
             _cell('#| eval: false\nimport os\nprint(data)'),              # not run
             _cell('import json\ntry: json.loads(x)\nexcept ValueError as e: print(e)')]  # x: not defined anywhere
    nb = tmp_path / '01_x.ipynb'
    nb.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    problems = checks.docs_exec_problems(nb)
    assert [re.search(r'cell (\d+)', p).group(1) for p in problems] == ['3', '5'], problems
    assert 'uses data from cells nbdev does not run' in problems[0] and 'uses x from' in problems[1]
