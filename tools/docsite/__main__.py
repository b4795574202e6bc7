"`python -m tools.docsite build|serve` (the same as `python tools/site.py build|serve`)."
import argparse, functools, http.server, sys
from pathlib import Path

from . import __doc__ as DOC
from .build import DEFAULT_OUT, build
from .config import SiteError

def serve(out: Path, port: int):
    "Serve the built site on 127.0.0.1 (Pagefind's search needs HTTP: it cannot load its index from file://)."
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(('127.0.0.1', port), handler) as s:
        print(f'serving {out} on http://127.0.0.1:{s.server_address[1]}/index.html (Ctrl-C stops)')
        try: s.serve_forever()
        except KeyboardInterrupt: pass

def main(argv=None):
    ap = argparse.ArgumentParser(description=DOC.split('\n')[0])
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
