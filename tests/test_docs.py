"The README is the guide notebook, and the documentation site builds offline with a page per notebook."
import os, re, subprocess, sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'docs'))
import make_docs  # noqa: E402


def test_readme_is_generated_from_the_index_notebook():
    want = make_docs.GENERATED + '\n\n' + make_docs.notebook_markdown(ROOT / 'nbs' / 'index.ipynb')
    assert (ROOT / 'README.md').read_text() == want, 'README.md is stale: run `make readme` and commit it'
    assert len(want.splitlines()) < 250


def _links(html: str) -> list:
    return [h for h in re.findall(r'href="([^"#]+)', html) if not urlparse(h).scheme and not h.startswith('mailto')]


def test_the_site_builds_with_every_notebook_and_its_links(tmp_path):
    make_docs.site(tmp_path / '_docs')  # built beside the test, not in the checkout
    site = tmp_path / 'site'
    env = dict(os.environ, NO_MKDOCS_2_WARNING='1')
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '-q', '-f', str(tmp_path / '_mkdocs.yml'), '-d', str(site)],
                       cwd=tmp_path, capture_output=True, text=True, env=env)  # its .cache/ lands there too
    assert r.returncode == 0, r.stderr[-3000:]
    for nb in sorted((ROOT / 'nbs').glob('[0-9][0-9]_*.ipynb')):
        page = site / 'api' / nb.stem / 'index.html'
        assert page.exists(), f'{nb.name} has no page'
    for p in (ROOT / 'nbs' / 'pages').glob('*.md'):
        assert (site / 'pages' / p.stem / 'index.html').exists(), p.name
    index = site / 'index.html'
    for href in _links(index.read_text()):
        target = (index.parent / href).resolve()
        assert target.exists() or (target / 'index.html').exists(), f'index links to {href}, which the site lacks'
    stage1 = (site / 'api' / '16_stage1' / 'index.html').read_text()
    assert 'the run folder' in stage1 and 'Stage1' in stage1  # the docments of `Stage1` are on its page
