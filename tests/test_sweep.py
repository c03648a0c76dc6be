"`salad sweep`: the tiny sweep through its two papermill notebooks, as a user runs it, and its analysis."
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_salad_sweep_trains_every_model_and_the_arms_then_analyses_them(tmp_path):
    cmd = [sys.executable, '-c', 'from salad.cli import main; main()', 'sweep', 'tiny-sweep', '--runs', str(tmp_path)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    root = tmp_path / 'tiny-sweep'
    rows = [json.loads(l) for l in (root / 'rows.jsonl').read_text().splitlines()]
    arms = [json.loads(l) for l in (root / 'arms.jsonl').read_text().splitlines()]
    assert sorted(r['label'] for r in rows) == ['frozen-a1', 'lora-a0', 'lora-a1']
    assert sorted(r['arm'] for r in arms) == ['active', 'control', 'uniform']
    model = lambda k, f: (root / 'models' / k / f).stat().st_mtime
    assert model('frozen-a1', 'arm-control.json') <= model('lora-a1', 'row.json')  # a model's arms, then the next
    analysis = json.loads((root / 'analysis.json').read_text())
    assert set(analysis) >= {'speech ~ log M', 'text ~ F', 'alpha 1 - 0', 'arms'}, analysis
    assert analysis['speech ~ log M, models and arms']['models'] == 6  # 3 Stage I models + 3 arms
    d, lo, hi = analysis['arms']['active - uniform']
    assert lo <= d <= hi and -1 <= lo and hi <= 1, analysis['arms']
    assert (root / 'analysis.png').exists()
    for nb in ('sweep', 'analysis'):
        assert (root / 'notebooks' / f'{nb}.ipynb').exists(), nb
