import pytest

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
