"Plain unit tests of the package's set-up promises."
import subprocess, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_no_torchaudio_anywhere():
    code = 'import salad.assets, salad.audio, salad.synthesis, salad.metrics, salad.cli, sys; print("torchaudio" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == 'False'

def test_setup_has_no_pkg_resources():
    assert 'pkg_resources' not in (ROOT/'setup.py').read_text()

def test_settings_keep_papermill_tags_and_flags():
    cfg = ConfigParser(); cfg.read(ROOT/'settings.ini'); d = cfg['DEFAULT']
    assert d['allowed_cell_metadata_keys'] == 'tags'
    assert d['tst_flags'].split() == ['notest', 'slow']
    assert 'nbdev==2.4.14' in d['dev_requirements'] and 'torchaudio' not in d['requirements']

def test_experiment_notebooks_have_parameters_cell():
    import nbformat
    for nb in (ROOT/'nbs'/'experiments').glob('*.ipynb'):
        cells = nbformat.read(nb, as_version=4).cells
        assert any('parameters' in c.metadata.get('tags', []) for c in cells), nb

def test_cli_help():
    r = subprocess.run([str(Path(sys.executable).parent/'salad'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'smoke' in r.stdout

def test_notebooks_are_formatted():
    "The notebooks (the source) are `ruff format`ted at 120 columns: `make format` fixes it."
    import shutil
    ruff = shutil.which('ruff') or str(Path(sys.executable).parent/'ruff')
    r = subprocess.run([ruff, 'format', '--check', '--no-cache', 'nbs'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
