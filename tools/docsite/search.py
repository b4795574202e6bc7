"Step 4 of the build: the full-text search index, made by Pagefind (`pagefind[bin]` ships its binary on PyPI)."
import subprocess, sys
from pathlib import Path

# Pagefind also writes its other UIs (component, modular, highlight): the site uses pagefind-ui.js only
UNUSED = ['pagefind-component-ui.js', 'pagefind-component-ui.css', 'pagefind-modular-ui.js', 'pagefind-modular-ui.css',
          'pagefind-highlight.js']

from .config import SiteError

def index(site: Path) -> None:
    """Index every page of `site` into `site/pagefind/`, with Pagefind's search UI bundle beside the index.
    Pages mark what is searched with `data-pagefind-body` (the text column) and `data-pagefind-ignore`."""
    try: import pagefind  # noqa: F401  (the Python package that runs the bundled binary)
    except ImportError: raise SiteError('Pagefind is missing: pip install -e ".[dev]" installs pagefind[bin]') from None
    r = subprocess.run([sys.executable, '-m', 'pagefind', '--site', str(site)], capture_output=True, text=True)
    if r.returncode or not (site / 'pagefind' / 'pagefind-ui.js').exists():
        raise SiteError(f'pagefind failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}')
    for f in UNUSED: (site / 'pagefind' / f).unlink(missing_ok=True)
