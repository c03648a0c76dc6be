import os, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def pytest_addoption(parser):
    parser.addoption('--skip-slow', action='store_true', help='skip real-model checks (#| slow cells and @slow tests)')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: loads or converts the real offline models')

def pytest_collection_modifyitems(config, items):
    if not config.getoption('--skip-slow'): return
    skip = pytest.mark.skip(reason='--skip-slow')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)

@pytest.fixture
def skip_slow(request): return request.config.getoption('--skip-slow')


def _checkout_files() -> set:
    "What git sees in the checkout, ignored files included, the SALAD_HOME cache and the virtualenv aside."
    r = subprocess.run(['git', 'status', '--porcelain', '--ignored'], cwd=ROOT, capture_output=True, text=True)
    home = Path(os.environ.get('SALAD_HOME', ROOT / '.salad')).resolve()
    skip = {f'{p.relative_to(ROOT)}/' for p in (home, ROOT / '.venv') if p.is_relative_to(ROOT)}
    return {l[3:] for l in r.stdout.splitlines() if l[3:] not in skip} if r.returncode == 0 else set()


def pytest_sessionstart(session):
    session.config._checkout_before = _checkout_files()


def pytest_sessionfinish(session, exitstatus):
    "The tests leave nothing in the checkout: every test writes under a temporary folder."
    new = sorted(_checkout_files() - session.config._checkout_before)
    if new:
        print(f"\ntests wrote into the checkout (they must write under a temporary folder): {new}")
        session.exitstatus = 1
