"""Build the documentation site without Quarto: `python tools/site.py build|serve [--out DIR] [--only NB ...]`.

The builder is the package `tools/docsite/` (its docstring explains the steps); this file keeps the command short.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root, so that `tools` is importable
from tools.docsite.__main__ import main  # noqa: E402

if __name__ == '__main__': main()
