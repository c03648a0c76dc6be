"`salad run`: the whole experiment through papermill on the tiny preset, killed in the middle and run again."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ['data', 'stage1', 'stage2-active', 'stage2-uniform', 'stage2-control', 'evaluate', 'report']


def salad_run(runs: Path, *args, **kw):
    cmd = [sys.executable, '-c', 'from salad.cli import main; main()', 'run', '--preset', 'tiny', '--name', 't',
           '--runs', os.path.relpath(runs, ROOT), *args]  # relative, as users type it (papermill changes the cwd)
    env = dict(os.environ, SALAD_CLOCK_EVERY='1')  # the stage clock's heartbeat, every second
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=env, **kw)


@pytest.mark.slow
def test_salad_run_survives_a_kill_and_finishes_without_redoing_stages(tmp_path):
    run = tmp_path / 't'
    p = salad_run(tmp_path)
    deadline = time.time() + 900
    while not (run / 'steps' / 'run-stage2-active.started.json').exists():  # killed inside the first Stage II arm
        assert p.poll() is None, p.stdout.read()
        assert time.time() < deadline, 'salad run did not reach Stage II'
        time.sleep(1)
    time.sleep(5)
    os.killpg(p.pid, signal.SIGKILL)  # the CLI and its notebook kernel, mid-stage
    p.wait()
    done_before = {s: json.loads((run / 'steps' / f'run-{s}.json').read_text())['finished'] for s in ('data', 'stage1')}

    p = salad_run(tmp_path)
    out, _ = p.communicate(timeout=1800)
    assert p.returncode == 0, out
    assert '[1/7] data: finished before, skipped' in out and '[2/7] stage1: finished before, skipped' in out, out
    assert '[3/7] stage2-active (resuming)' in out, out
    for s, t in done_before.items():  # finished stages were not redone
        assert json.loads((run / 'steps' / f'run-{s}.json').read_text())['finished'] == t
    for s in STAGES:
        assert (run / 'notebooks' / f'{s}.ipynb').exists() and (run / 'steps' / f'run-{s}.json').exists(), s
    report, metrics = (run / 'report.md').read_text(), json.loads((run / 'metrics.json').read_text())
    assert set(metrics['models']) == {'base', 'Stage I', 'Stage II active', 'Stage II uniform', 'Stage II control'}
    assert 'Stage II active − Stage II uniform' in report and '## Wall time' in report
    active = json.loads((run / 'steps' / 'run-stage2-active.json').read_text())['result']
    assert len(active['attempts']) == 2 and active['seconds'] == round(sum(active['attempts']), 1), active
    assert active['attempts'][0] >= 3, active  # killed after ~5 s: a 1 s heartbeat keeps >= 3 of them
    assert f"| stage2-active | {active['seconds'] / 60:.1f} | 2 |" in report, report  # the killed attempt counts

    p = salad_run(tmp_path)  # all finished: nothing runs
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0 and out.count('finished before, skipped') == 7, out

    p = salad_run(tmp_path, '--set', 'train.steps=5')  # another config in the same run folder: refused
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 2 and 'train.steps: 6 -> 5' in out and 'another config' in out, out


@pytest.mark.slow
def test_salad_run_names_the_failing_notebook_and_cell(tmp_path):
    "A stage that fails stops the run with the executed notebook's path and the failing cell; earlier stages stay."
    sockets = set((ROOT / 'nbs' / 'experiments').glob('kernel-ipc*'))
    p = salad_run(tmp_path, '--only', 'stage1', '--set', 'data.stage1_source=/no/such/corpus')
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 2, out
    executed = os.path.relpath(tmp_path / 't' / 'notebooks' / 'stage1.ipynb', ROOT)
    assert 'stage stage1 failed in cell' in out and executed in out, out
    assert (tmp_path / 't' / 'notebooks' / 'stage1.ipynb').exists()
    assert set((ROOT / 'nbs' / 'experiments').glob('kernel-ipc*')) == sockets  # the kernel's sockets stay out of nbs


def test_every_experiment_notebook_declares_parameters_papermill_can_read():
    "A `=` or a quote in a parameter's comment makes papermill skip it (a warning, then 'unknown parameter')."
    import nbformat
    from papermill.translators import PythonTranslator
    for f in sorted((ROOT / 'nbs' / 'experiments').glob('*.ipynb')):
        cell = next(c for c in nbformat.read(f, 4).cells if 'parameters' in c.metadata.get('tags', []))
        names = [p.name for p in PythonTranslator.inspect(cell)]
        declared = [l.split('=')[0].strip() for l in cell.source.splitlines() if '=' in l.split('#')[0]]
        assert names == declared, (f.name, names, declared)
