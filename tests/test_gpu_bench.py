"""The GPU bench is one command that works: `bench/gpu_stage1.py` at tiny width on the CPU goes through every part
it measures on a GPU (stand-ins, features, Stage I with the paper preset's switches, the scorer, Stage II from the
pre-decay checkpoint, a SIGKILLed run resumed to the same loss curve) and writes every figure."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_bench_runs_at_tiny_width(tmp_path):
    bench = [sys.executable, str(ROOT / 'bench' / 'gpu_stage1.py')]
    subprocess.run(bench + ['prepare', str(tmp_path / 'w')], check=True, capture_output=True)
    env = dict(os.environ, SALAD_HOME=str(tmp_path / 'home'))
    r = subprocess.run(bench + ['run', str(tmp_path / 'w'), str(tmp_path / 'out'), '--width', 'tiny', '--micro-batch',
                                '2', '--resume'], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rec = json.loads((tmp_path / 'out' / 'gpu_stage1.json').read_text())
    assert rec['features']['clips'] == 48 and rec['features']['x_real_time'] > 0
    s1 = rec['stage1']
    assert s1['steps_timed'] == 10 and s1['positions_per_s'] > 0 and s1['mfu'] >= 0
    assert rec['checkpoints'][-1]['step'] == 12 and rec['checkpoints'][-1]['gb'] > 0
    assert rec['stage2']['start'] == 'step-000012' and rec['stage2']['steps_timed'] == 3
    assert rec['scorer']['text_items_per_s'] > 0 and rec['scorer']['speech_items_per_s'] > 0
    assert rec['resume']['same_curve'] and rec['resume']['max_loss_difference'] == 0.0  # exact on the CPU
