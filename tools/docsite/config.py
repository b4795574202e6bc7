"The site's inputs: the Quarto configuration (`_quarto.yml` and its metadata files) and the repository's settings."
import configparser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NBS = ROOT / 'nbs'
ASSETS = Path(__file__).resolve().parent / 'assets'


class SiteError(Exception): "A problem with the docs inputs that the person building the site has to fix."


def _merge(a: dict, b: dict) -> dict:
    "Merge `b` into `a` the way Quarto merges `metadata-files` (dicts recursively, everything else replaced)."
    out = dict(a)
    for k, v in b.items(): out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out

def _read_yaml(p: Path) -> dict:
    name = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
    if not p.exists(): raise SiteError(f'{name} is missing')
    try: d = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e: raise SiteError(f'{name} is not valid YAML: {e}') from e
    if not isinstance(d, dict): raise SiteError(f'{name} must be a YAML mapping')
    return d

def load_config(nbs: Path | None = None) -> dict:
    "`_quarto.yml` merged with its `metadata-files` (nbdev.yml, sidebar.yml)."
    nbs = nbs or NBS
    cfg = _read_yaml(nbs / '_quarto.yml')
    for f in cfg.get('metadata-files', []): cfg = _merge(cfg, _read_yaml(nbs / f))
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

def html_options(cfg: dict) -> dict:
    "`format: html:` of `_quarto.yml`."
    return (cfg.get('format') or {}).get('html') or {}

def settings(nbs: Path | None = None) -> dict:
    "The `[DEFAULT]` section of the project's settings.ini (empty when there is none)."
    ini = configparser.ConfigParser(interpolation=None)
    ini.read((nbs or NBS).parent / 'settings.ini')
    return dict(ini.defaults())

def repo_links(cfg: dict, nbs: Path | None = None) -> dict:
    "Where a page's notebook lives on the repository: the repo URL, branch and notebook folder (Quarto's repo-actions)."
    web = cfg.get('website') or {}
    d = settings(nbs)
    url = str(web.get('repo-url') or d.get('git_url', '')).rstrip('/')
    branch = str(web.get('repo-branch') or d.get('branch', 'main'))
    actions = web.get('repo-actions') or []
    return dict(url=url, branch=branch, subdir=str(web.get('repo-subdir') or 'nbs').strip('/'),
                source='source' in actions, issue='issue' in actions)
