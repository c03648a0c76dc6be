"A run that is stopped, doubled or misconfigured: signals stop the whole tree, one run per folder, preflight first."
import json, multiprocessing as mp, os, signal, subprocess, sys, time
from pathlib import Path
import psutil, pytest
from salad.assets import salad_home
from salad.cache import DiskCache
from salad.config import get_config
from salad.data import load_data

ROOT = Path(__file__).resolve().parents[1]
SETS = ['data.stage1_passages=120', 'data.workers=2']  # a data build long enough to stop inside its TTS pool


def fresh_home(tmp_path) -> Path:
    "A cache folder with the installed models and nothing else: the data build must speak, in a worker pool."
    home = tmp_path / 'home'
    home.mkdir()
    (home / 'assets').symlink_to(salad_home() / 'assets')
    return home


def salad(args, home, **kw):
    "`salad ARGS` in its own session (as a shell runs a job), with `home` as its cache folder."
    cmd = [sys.executable, '-c', 'from salad.cli import main; main()', *args]
    env = dict(os.environ, SALAD_HOME=str(home))
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=env, **kw)


def data_run(runs, *extra):
    return ['run', '--preset', 'tiny', '--name', 't', '--runs', str(runs), '--only', 'data', '--set', *SETS, *extra]


def built(run: Path, home: Path) -> dict:
    "The data build's rows and summary, with the cache folder's path and the timings taken out."
    out = {p: json.dumps(load_data(run / 'data', p).to_list()).replace(str(home), '~') for p in ('stage1', 'pool')}
    summary = json.loads((run / 'data' / 'summary.json').read_text())
    for k in ('synthesized', 'cached', 'audio_seconds', 'synth_seconds'):  # what this attempt spoke, not what it built
        summary['stage1'].pop(k)
    return dict(out, summary={k: v for k, v in summary.items() if k != 'seconds'})


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "The same data build, never interrupted."
    tmp = tmp_path_factory.mktemp('ref')
    home = fresh_home(tmp)
    p = salad(data_run(tmp / 'runs'), home)
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out
    return built(tmp / 'runs' / 't', home)


def _ids(p: psutil.Process):
    "(pgid, sid) of a process (None when it is gone)."
    try:
        return os.getpgid(p.pid), os.getsid(p.pid)
    except ProcessLookupError:
        return None


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_the_whole_tree_and_the_rerun_resumes(sig, tmp_path, reference):
    home, runs = fresh_home(tmp_path), tmp_path / 'runs'
    p, seen, deadline = salad(data_run(runs), home), {}, time.time() + 600
    me = psutil.Process(p.pid)
    while sum('spawn_main' in cmd for _, cmd in seen.values()) < 2:  # the kernel's TTS workers are up
        assert p.poll() is None, p.stdout.read()
        assert time.time() < deadline, 'the data build never started its TTS pool'
        for c in me.children(recursive=True):
            try:
                seen.setdefault(c.pid, (c, ' '.join(c.cmdline())))
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    procs = [c for c, _ in seen.values()]
    groups = {i for c in procs if (ids := _ids(c)) for i in ids} | {p.pid}
    os.kill(p.pid, sig)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, out
    assert f'salad: stopped by {sig.name}; rerun the same command to resume' in out, out
    time.sleep(10)
    left = [c.pid for c in procs if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not left, f'still running: {left} of {[cmd for _, cmd in seen.values()]}'
    stray = [q.pid for q in psutil.process_iter() if q.pid != os.getpid() and (ids := _ids(q)) and set(ids) & groups]
    assert not stray, f'processes left in the run\'s process groups or sessions: {stray}'
    assert not (runs / 't' / 'steps' / 'run-data.json').exists()  # stopped, not finished

    p = salad(data_run(runs), home)  # the rerun resumes and finishes as an uninterrupted run does
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0 and 'data (resuming)' in out, out
    assert built(runs / 't', home) == reference


def started_holding_the_lock(runs: Path, home: Path):
    "`salad run` on the tiny data build, once it holds its run folder's lock."
    p = salad(data_run(runs), home)
    lock, deadline = runs / 't' / '.lock', time.time() + 120
    while not (lock.exists() and f'PID {p.pid}' in lock.read_text()):
        assert p.poll() is None and time.time() < deadline, p.stdout.read()
        time.sleep(0.1)
    return p


@pytest.mark.slow
def test_one_run_per_folder(tmp_path, reference):
    "A second `salad run` on a folder in use is refused, naming the first; the first finishes as if alone."
    home, runs = fresh_home(tmp_path), tmp_path / 'runs'
    first = started_holding_the_lock(runs, home)
    second = salad(data_run(runs), home)
    out2, _ = second.communicate(timeout=120)
    assert second.returncode == 2 and f'is in use by PID {first.pid} since' in out2, out2
    out1, _ = first.communicate(timeout=900)
    assert first.returncode == 0, out1
    assert built(runs / 't', home) == reference
    attempts = json.loads((runs / 't' / 'steps' / 'run-data.time.json').read_text())['attempts']
    assert len(attempts) == 1  # one run wrote the folder


@pytest.mark.slow
def test_a_lock_left_by_a_killed_run_never_blocks(tmp_path):
    home, runs = fresh_home(tmp_path), tmp_path / 'runs'
    p = started_holding_the_lock(runs, home)
    os.killpg(p.pid, signal.SIGKILL)  # no handler runs: the OS releases the lock
    p.wait()
    q = salad(['run', '--preset', 'tiny', '--name', 't', '--runs', str(runs), '--only', 'report'], home)
    out, _ = q.communicate(timeout=300)
    assert 'is in use' not in out, out


def _fill(args):
    "Write every key of a shared cache many times over, each entry a large value made from its key."
    root, worker = args
    cache = DiskCache(Path(root), 'race', '.bin')
    for rnd in range(6):
        for k in range(12):
            cache.write(f'key-{k}', lambda tmp, k=k: tmp.write_bytes(bytes([k]) * (3 << 20)))
    return worker


def test_two_processes_filling_the_same_cache_keys_leave_no_torn_entry(tmp_path):
    with mp.get_context('spawn').Pool(2) as pool:
        assert sorted(pool.map(_fill, [(str(tmp_path), 0), (str(tmp_path), 1)])) == [0, 1]
    cache = DiskCache(tmp_path, 'race', '.bin')
    for k in range(12):
        assert cache.path(f'key-{k}').read_bytes() == bytes([k]) * (3 << 20)
    assert not list(tmp_path.rglob('*.tmp')), 'a temporary file was left behind'


def _make_dir(args):
    "Build the same folder atomically, as two runs preparing one asset would."
    from salad.assets import atomic_dir
    target, worker = args
    for rnd in range(8):
        with atomic_dir(Path(target)) as tmp:
            for i in range(20):
                (tmp / f'part-{i}').write_bytes(bytes([i]) * 65536)
                time.sleep(0.01)  # a build takes a while: the two overlap
    return worker


def test_two_processes_building_the_same_folder_never_fail_or_tear(tmp_path):
    with mp.get_context('spawn').Pool(2) as pool:
        assert sorted(pool.map(_make_dir, [(str(tmp_path / 'a'), 0), (str(tmp_path / 'a'), 1)])) == [0, 1]
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == sorted(f'part-{i}' for i in range(20))
    assert all((tmp_path / 'a' / f'part-{i}').read_bytes() == bytes([i]) * 65536 for i in range(20))
    assert [p.name for p in tmp_path.iterdir()] == ['a']  # no temporary folder left


def _refused(args, home=None):
    "`salad ARGS` that must stop before any work: (exit code, output, seconds)."
    t0 = time.time()
    p = salad(args, home or salad_home())
    out, _ = p.communicate(timeout=300)
    return p.returncode, out, time.time() - t0


def test_a_missing_model_is_refused_before_the_data_stage(tmp_path):
    code, out, secs = _refused(['run', '--preset', 'quick', '--runs', str(tmp_path), '--set', 'model.llm=/nonexistent'])
    assert code == 2 and "salad: error: model.llm='/nonexistent': no such folder" in out, out
    assert not (tmp_path / 'quick' / 'data').exists() and secs < 120, secs


def test_a_hub_model_that_cannot_be_had_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    code, out, _ = _refused(['run', '--preset', 'tiny', '--runs', str(tmp_path), '--set', 'model.encoder=nobody/no-such-encoder'])
    assert code == 2 and "model.encoder='nobody/no-such-encoder': not in the local Hugging Face cache" in out, out
    monkeypatch.delenv('HF_HUB_OFFLINE')  # a machine without the network: the hub does not answer
    code, out, _ = _refused(['stage1', '--preset', 'tiny', '--set', 'model.llm=nobody/no-such-llm', '--run', str(tmp_path / 's1')])
    assert code == 2 and "model.llm='nobody/no-such-llm'" in out and 'fix:' in out, out


def test_a_pool_smaller_than_the_probe_is_refused_naming_its_size_and_keys(tmp_path):
    code, out, _ = _refused(['run', '--preset', 'tiny', '--runs', str(tmp_path), '--set',
                             'eval.probe_passages=100000', 'train.replay_share=0.5'])
    assert code == 2, out
    line = next(l for l in out.splitlines() if 'train.replay_share=0.5' in l)
    assert 'passages, eval.probe_passages=100000 hold them out' in line and "data.pool_sources=['qasper', 'drop']" in line
    assert 'stage2.clusters=3' in out and not (tmp_path / 'tiny' / 'data').exists()


def test_a_disk_without_room_for_the_checkpoints_is_refused(tmp_path, monkeypatch):
    "A 3B LLM trained in full (config only, counted on the meta device) on a disk with 10 GB free."
    from transformers import Qwen2Config
    import salad.preflight
    from salad.preflight import PreflightError, require
    Qwen2Config(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True).save_pretrained(tmp_path / 'llm')
    cfg = get_config('tiny', {'model': {'llm': str(tmp_path / 'llm'), 'llm_training': 'full'}})
    monkeypatch.setattr(salad.preflight, 'free_bytes', lambda path: 10 * 10**9)
    with pytest.raises(PreflightError, match=r'train.keep_checkpoints=2: 1 training stage\(s\) keep ~1\d\d\.\d GB'):
        require(cfg, ['stage1'], runs_dir=tmp_path)
    require(cfg, ['data', 'evaluate'], runs_dir=tmp_path)  # no training stage: no checkpoints
