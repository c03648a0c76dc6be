"Run every notebook in nbs/ with nbdev's test runner (cwd = the notebook's folder)."
import shutil
from configparser import ConfigParser
from pathlib import Path
import pytest
from nbdev.test import test_nb as run_nb

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
_cfg = ConfigParser(); _cfg.read(ROOT/'settings.ini')
FLAGS = _cfg['DEFAULT']['tst_flags'].split()

def test_found_notebooks(): assert len(NBS) >= 5

@pytest.mark.parametrize('nb', NBS, ids=lambda p: str(p.relative_to(ROOT/'nbs')))
def test_notebook(nb, skip_slow, tmp_path):
    force = [] if skip_slow else ['slow']  # `make test` runs the real-model cells too
    if 'experiments' in nb.parts:  # their defaults write to ../../runs: a copy runs, so the checkout stays clean
        (tmp_path / 'nbs' / 'experiments').mkdir(parents=True)
        nb = Path(shutil.copy(nb, tmp_path / 'nbs' / 'experiments'))
    ok, secs = run_nb(nb, skip_flags=FLAGS, force_flags=force, showerr=True)
    assert ok, f'{nb.name} failed (traceback above)'
