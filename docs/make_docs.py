"""Build the README and the documentation site from the notebooks, offline (no Quarto).

    python docs/make_docs.py readme   # README.md from nbs/index.ipynb
    python docs/make_docs.py site     # _docs/: the guide, the pages and every notebook, API shown as show_doc shows it
    mkdocs build -f _mkdocs.yml       # site/ from _docs/ (mkdocs.yml + the nav); `make docs` runs all three

The README is the guide notebook's markdown; its links into `nbs/` are rewritten for the site. Each module
notebook becomes a page: after every exported cell, the signature of what it defines with its parameters'
comments (nbdev's `show_doc`), then the notebook as it is (prose, code and checks).
"""
import ast, json, re, shutil, sys
from pathlib import Path
from nbdev.showdoc import BasicMarkdownRenderer

ROOT = Path(__file__).resolve().parents[1]
NBS, OUT = ROOT / 'nbs', ROOT / '_docs'
GENERATED = '<!-- generated from nbs/index.ipynb by `make readme` (docs/make_docs.py): edit the notebook, not this file -->'


def _cells(nb_path: Path) -> list:
    return json.loads(nb_path.read_text())['cells']


def _src(cell) -> str:
    return ''.join(cell['source'])


def notebook_markdown(nb_path: Path) -> str:
    "A notebook as markdown: markdown cells as they are, code cells fenced."
    parts = [_src(c) if c['cell_type'] == 'markdown' else f"```python\n{_src(c)}\n```" for c in _cells(nb_path)]
    return '\n\n'.join(p.strip('\n') for p in parts if p.strip()) + '\n'


def readme() -> Path:
    "Write README.md from nbs/index.ipynb."
    out = ROOT / 'README.md'
    out.write_text(GENERATED + '\n\n' + notebook_markdown(NBS / 'index.ipynb'))
    return out


def _defined(code: str) -> list:
    "Names an exported cell defines: functions, classes, and `Class.method` for `@patch_to(Class)`."
    names = []
    for d in ast.parse(code).body:
        if isinstance(d, (ast.FunctionDef, ast.ClassDef)) and not d.name.startswith('_'):
            patched = [x.args[0].id for x in d.decorator_list if isinstance(x, ast.Call) and getattr(x.func, 'id', '') == 'patch_to']
            names.append(f'{patched[0]}.{d.name}' if patched else d.name)
    return names


def _show_doc(module, name: str) -> str:
    "nbdev's show_doc markdown of `module.name`, without the source link (no hosted repository)."
    obj = module
    for part in name.split('.'):
        obj = getattr(obj, part)
    md = BasicMarkdownRenderer(obj, name=name)._repr_markdown_()
    return re.sub(r'^\[source\]\(.*\n', '', md, flags=re.M)


def module_page(nb_path: Path, out: Path) -> Path:
    "The notebook with each exported cell followed by the show_doc of what it defines."
    import importlib

    cells = _cells(nb_path)
    mod = next((_src(c).split()[-1] for c in cells if _src(c).startswith('#| default_exp')), None)
    module = importlib.import_module(f'salad.{mod}') if mod else None
    new = []
    for c in cells:
        src = _src(c)
        if src.startswith('#| default_exp') or src.startswith('#| hide'):
            continue
        new.append(dict(c, outputs=[], execution_count=None) if c['cell_type'] == 'code' else c)
        if module and c['cell_type'] == 'code' and src.startswith('#| export'):
            for name in _defined(src):
                new.append(dict(cell_type='markdown', metadata={}, source=_show_doc(module, name).splitlines(True)))
    nb = json.loads(nb_path.read_text())
    nb['cells'] = new
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    return out


def _links(md: str, depth: int) -> str:
    "Rewrite the repository's links for the site: nbs/pages/x.md -> pages/x.md, nbs/NN.ipynb -> api/NN.ipynb."
    up = '../' * depth
    md = re.sub(r'\]\(nbs/pages/', f']({up}pages/', md)
    md = re.sub(r'\]\(nbs/(\w+)\.ipynb', lambda m: f']({up}api/{m.group(1)}.ipynb', md)
    return md.replace('](RESULTS.md', f']({up}RESULTS.md').replace('](../../RESULTS.md', f']({up}RESULTS.md')


def site(out: Path = OUT) -> Path:
    "Write `out` (_docs/): index.md, pages/, api/, experiments/, RESULTS.md; and beside it _mkdocs.yml, the nav."
    shutil.rmtree(out, ignore_errors=True)
    (out / 'pages').mkdir(parents=True)
    (out / 'api').mkdir()
    (out / 'experiments').mkdir()
    (out / 'index.md').write_text(_links(notebook_markdown(NBS / 'index.ipynb'), 0))
    order = ['running', 'presets', 'method', 'results', 'paper_scale', 'install', 'speed', 'tests', 'layout']
    pages = sorted((NBS / 'pages').glob('*.md'), key=lambda p: (order.index(p.stem) if p.stem in order else 99, p.stem))
    for p in pages:
        (out / 'pages' / p.name).write_text(_links(p.read_text(), 1))
    if (NBS / 'pages' / 'figures').is_dir():  # the figures the pages and the guide show
        shutil.copytree(NBS / 'pages' / 'figures', out / 'pages' / 'figures')
    mods = sorted(p for p in NBS.glob('[0-9][0-9]_*.ipynb'))
    for p in mods:
        module_page(p, out / 'api' / p.name)
    exps = sorted((NBS / 'experiments').glob('*.ipynb'))
    for p in exps:
        shutil.copy(p, out / 'experiments' / p.name)
    shutil.copy(ROOT / 'RESULTS.md', out / 'RESULTS.md')
    nav = [
        {'Guide': 'index.md'},
        {'Pages': [f'pages/{p.name}' for p in pages]},
        {'Notebooks': [f'api/{p.name}' for p in mods]},
        {'Experiments': [f'experiments/{p.name}' for p in exps]},
        {'Results log': 'RESULTS.md'},
    ]
    conf = {'INHERIT': str(ROOT / 'mkdocs.yml'), 'docs_dir': str(out), 'nav': nav}  # the settings and this nav
    (out.parent / '_mkdocs.yml').write_text(json.dumps(conf, indent=1))  # JSON is YAML
    return out


if __name__ == '__main__':
    what = sys.argv[1:] or ['readme', 'site']
    for w in what:
        print({'readme': readme, 'site': site}[w]())
