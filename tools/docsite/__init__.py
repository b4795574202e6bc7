"""Build the documentation site without Quarto: a static folder a browser opens with no network.

    python tools/site.py build [--out _site_local]               # build every page the sidebar lists
    python tools/site.py serve [--out _site_local] [--port 8000]  # build, then serve it on http://127.0.0.1:8000
    python tools/site.py build --only 01_matmul.ipynb            # a quick look at one page while writing it
    (the same: python -m tools.docsite build ...)

With Quarto installed, `nbdev_preview` / `nbdev_docs` make the real site from `nbs/_quarto.yml`, `nbs/nbdev.yml`,
`nbs/sidebar.yml` and `nbs/styles.css`. This package makes the same pages from the same inputs with tools that install
from PyPI, so the site can be built and tested anywhere:

1. `nbproc`: nbdev's own processing into `_proc/` (hidden cells removed, the title cell turned into front matter,
   a `show_doc` cell after every exported function and class).
2. `cells`: Quarto's cell options applied the way Quarto applies them (`include`, `echo`, `output`, `output: asis`,
   `warning`, `code-fold`, `fig-alt`); `apidoc` renders each API entry from the library's object (signature and a
   parameter table from the docments).
3. `build`: pandoc (the `pypandoc_binary` wheel) turns each notebook into a page with `assets/template.html` and
   `assets/filter.lua`: math as MathML (no JavaScript, no CDN), plots as image files, links between notebooks pointed
   at their pages, the sidebar of `sidebar.yml`, previous/next links, "view source" / "report an issue" links.
   `assets/site.css` and `assets/site.js` style it and add menus, copy buttons, heading anchors and a scroll spy.
   Page file names follow nbdev's `output-file` (`01_matmul.ipynb` -> `matmul.html`), as on the Quarto site.
4. `search`: Pagefind indexes the pages; its own UI bundle is the search box (offline, from the site folder).

`checks` holds the docs invariants (the sidebar lists every notebook in course order; every export has an entry).
"""
from .build import DEFAULT_OUT, build
from .cells import cell_options, prepare
from .config import ASSETS, NBS, ROOT, SiteError, load_config, sidebar_pages
from .nbproc import PROC, proc_nbs

__all__ = ['ASSETS', 'DEFAULT_OUT', 'NBS', 'PROC', 'ROOT', 'SiteError', 'build', 'cell_options', 'load_config', 'prepare',
           'proc_nbs', 'sidebar_pages']
