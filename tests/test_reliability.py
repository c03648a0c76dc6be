"""Run folders that never lie: one test per defect of the run-folder issue, and kills at several points.

A "kill" raises `Killed` (a BaseException, so no `except Exception` in the library can swallow it) from inside
a step, leaving the folder as a dead process would; the rerun must end with the same files as a run that was
never interrupted, and with no metric missing. The SIGKILL test of a real process is in nbs/07_train.
"""
import argparse, json, shutil
from pathlib import Path
import numpy as np, pytest, soundfile as sf, torch
import salad.data, salad.evaluate, salad.runs, salad.stage1, salad.stage2, salad.assets, salad.train as dist
from salad.testing import synthetic_examples, tiny_speech_lm
from salad.adapter import collate_interleaved
from salad.losses import salad_loss
from salad.cli import _config, main
from salad.config import ConfigError, get_config, save_config
from salad.runs import RunError, write_json, load_tensors
from salad.synthesis import list_voices, synthesize

TIMING = {'seconds', 'feature_seconds', 'tokens_per_s', 'feature_cache_hits', 'feature_cache_misses', 'synth_seconds',
          'teacher_cache_hits', 'teacher_cache_misses', 'synthesized', 'cached', 'align_seconds', 'timing'}

class Killed(BaseException): "A simulated kill: nothing in the library catches it."

def _strip(d):
    "A result without its wall-clock and cache-hit figures (which differ between runs by nature)."
    if isinstance(d, dict): return {k: _strip(v) for k, v in d.items() if k not in TIMING}
    return d

def _kill_on(monkeypatch, obj, name, nth=1, after=False):
    "Make `obj.name` raise Killed on its nth call (after running it, if `after`)."
    orig, calls = getattr(obj, name), []
    def wrapped(*a, **k):
        calls.append(1)
        if len(calls) == nth and not after: raise Killed(name)
        out = orig(*a, **k)
        if len(calls) == nth: raise Killed(name)
        return out
    monkeypatch.setattr(obj, name, wrapped)

def _same_weights(a, b):
    x, y = load_tensors(a), load_tensors(b)
    assert set(x) == set(y)
    for k in x: assert torch.equal(x[k], y[k]), k

# ---------------------------------------------------------------- training on synthetic examples (fast)
CFG = get_config('tiny', {'train': {'steps': 10, 'checkpoint_every': 3}})
EX = synthetic_examples(12, 64, 12)

def _train(cfg, run, **kw): return dist.train_stage(cfg, tiny_speech_lm(cfg), EX, run, progress=False, **kw)

def test_resume_with_another_lr_is_refused(tmp_path, monkeypatch):
    "Defect 1: a resume with another train.lr kept the checkpoint's lr while config.yaml said the new one."
    _kill_on(monkeypatch, dist, 'save_checkpoint', nth=1, after=True)
    with pytest.raises(Killed): _train(CFG, tmp_path/'run')
    monkeypatch.undo()
    other = get_config('tiny', {'train': {'steps': 10, 'checkpoint_every': 3, 'lr_adapter': 5e-3}})
    with pytest.raises(RunError, match=r'train.lr_adapter: 0.001 -> 0.005'): _train(other, tmp_path/'run')
    assert (tmp_path/'run'/'config.yaml').read_text() == save_config(CFG, tmp_path/'c.yaml').read_text()

def test_safe_resume_follows_the_config_in_force(tmp_path, monkeypatch):
    "A resume may raise train.steps before the decay: the schedule, config.yaml and log follow; weights are exact."
    longer = get_config('tiny', {'train': {'steps': 12, 'checkpoint_every': 3}})
    ref = _train(longer, tmp_path/'ref')
    _kill_on(monkeypatch, dist, 'save_checkpoint', nth=1, after=True)  # killed after the step-3 checkpoint
    with pytest.raises(Killed): _train(CFG, tmp_path/'run')
    monkeypatch.undo()
    res = _train(longer, tmp_path/'run')  # 3 <= decay start of 10 (8) and of 12 (10): allowed
    _same_weights(tmp_path/'ref'/'final'/'trainable.safetensors', tmp_path/'run'/'final'/'trainable.safetensors')
    assert res['lr'] == ref['lr'] and res['loss'] == ref['loss']
    assert 'steps: 12' in (tmp_path/'run'/'config.yaml').read_text()
    steps = [json.loads(l)['step'] for l in (tmp_path/'run'/'log.jsonl').read_text().splitlines()]
    assert steps == sorted(set(steps)) == list(range(1, 13)), steps  # no step logged twice after the resume

def test_steps_change_after_decay_started_is_refused(tmp_path, monkeypatch):
    _kill_on(monkeypatch, dist, 'save_checkpoint', nth=4, after=True)  # saves 3, 6, 8 (pre-decay), 9: killed in the decay
    with pytest.raises(Killed): _train(CFG, tmp_path/'run')
    monkeypatch.undo()
    more = get_config('tiny', {'train': {'steps': 20, 'checkpoint_every': 3}})
    with pytest.raises(RunError, match='train.steps: 10 -> 20'): _train(more, tmp_path/'run')

def test_finished_run_with_other_steps_is_refused(tmp_path):
    "Defect 1: rerunning a finished run with another train.steps returned the old metrics with exit code 0."
    _train(CFG, tmp_path/'run')
    more = get_config('tiny', {'train': {'steps': 12, 'checkpoint_every': 3}})
    with pytest.raises(RunError, match=r"step 'train' finished with other settings \(train.steps: 10 -> 12\)"):
        _train(more, tmp_path/'run')
    res = _train(more, tmp_path/'run', force=True)  # --force redoes it
    assert res['step'] == 12

def test_changed_model_never_overwrites_config_yaml(tmp_path):
    "Defect 1: a changed model.adapter_dim overwrote config.yaml before the run failed."
    _train(CFG, tmp_path/'run')
    before = (tmp_path/'run'/'config.yaml').read_bytes()
    wide = get_config('tiny', {'train': {'steps': 10, 'checkpoint_every': 3}, 'model': {'adapter_dim': 32}})
    with pytest.raises(RunError, match='model.adapter_dim: 64 -> 32'): _train(wide, tmp_path/'run')
    assert (tmp_path/'run'/'config.yaml').read_bytes() == before

def test_kill_during_checkpoint_write_resumes_exactly(tmp_path, monkeypatch):
    "A kill while a checkpoint is being written leaves the previous one, and the resumed run ends identical."
    _train(CFG, tmp_path/'ref')
    orig, calls = dist.save_speech_lm, []
    def dying_save(model, out, weights=None):
        calls.append(out)
        if len(calls) == 2: raise Killed('inside the step-6 checkpoint write')
        return orig(model, out, weights)
    monkeypatch.setattr(dist, 'save_speech_lm', dying_save)
    with pytest.raises(Killed): _train(CFG, tmp_path/'run')
    monkeypatch.undo()
    assert dist.latest_checkpoint(tmp_path/'run').name == 'step-000003'
    assert not list((tmp_path/'run'/'checkpoints').glob('.*tmp*'))  # the half-written one is gone
    _train(CFG, tmp_path/'run')
    _same_weights(tmp_path/'ref'/'final'/'trainable.safetensors', tmp_path/'run'/'final'/'trainable.safetensors')

@pytest.mark.parametrize('override', [{'model': {'llm_training': 'lora'}}, {'train': {'grad_accum': 2}},
                                      {'model': {'llm_training': 'full'}, 'train': {'replay_share': 0.3}}],
                         ids=['lora', 'grad_accum', 'full+replay'])
def test_hard_resumes_are_bit_identical(override, tmp_path, monkeypatch):
    "LoRA weights, accumulated micro-batches and text replay resume exactly after a kill."
    cfg = get_config('tiny', dict(override, train=dict(override.get('train', {}), steps=8, checkpoint_every=3, lr_llm=1e-3)))
    replay = [[dict(kind='text', ids=list(range(1 + i, 12 + i)))] for i in range(8)]
    ref = dist.train_stage(cfg, tiny_speech_lm(cfg), dist.TrainData(EX, replay=replay), tmp_path/'ref', progress=False)
    _kill_on(monkeypatch, dist, 'save_checkpoint', nth=1, after=True)
    with pytest.raises(Killed): dist.train_stage(cfg, tiny_speech_lm(cfg), dist.TrainData(EX, replay=replay), tmp_path/'run', progress=False)
    monkeypatch.undo()
    res = dist.train_stage(cfg, tiny_speech_lm(cfg), dist.TrainData(EX, replay=replay), tmp_path/'run', progress=False)
    _same_weights(tmp_path/'ref'/'final'/'trainable.safetensors', tmp_path/'run'/'final'/'trainable.safetensors')
    assert res['loss'] == ref['loss']
    if 'llm_training' in override.get('model', {}):  # the LLM's own weights were trained and saved
        assert any('llm' in k for k in load_tensors(tmp_path/'run'/'final'/'trainable.safetensors'))

def test_rng_states_are_restored_exactly(tmp_path):
    "A draw after loading a checkpoint equals the draw the uninterrupted process made next (torch, numpy, python)."
    import random
    model = tiny_speech_lm(CFG)
    opt = dist.make_optimizer(model, CFG.train)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    torch.manual_seed(3); np.random.seed(4); random.seed(5)
    torch.rand(7); np.random.rand(9); random.random()  # advance, so the saved states are not the seeds' own
    weights, optim = dist.gathered_state(model, opt)
    states = dict(weights=weights, optimizer=optim, scheduler=sched.state_dict())
    ck = dist.save_checkpoint(tmp_path, 1, model, states, CFG)
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    torch.manual_seed(99); np.random.seed(99); random.seed(99)
    dist.load_checkpoint(ck, model, opt, sched)
    got = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]

def test_a_checkpoint_of_the_older_layout_still_resumes(tmp_path):
    "Before the optimizer state had its own file, state.pt held it keyed by position: such a run still resumes."
    model = tiny_speech_lm(CFG)
    opt = dist.make_optimizer(model, CFG.train)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    batch = collate_interleaved(synthetic_examples(2, 64, 12), CFG.model.stack)
    salad_loss(model(batch), model.teacher_logits(batch), batch, 1.0, 1.0)['loss'].backward()
    opt.step()
    ck = dist.save_checkpoint(tmp_path, 1, model, dict(optimizer={}, scheduler=sched.state_dict()), CFG)
    st = torch.load(ck/'state.pt', weights_only=True)
    torch.save(dict(st, optimizer=opt.state_dict()), ck/'state.pt')  # the older layout
    (ck/'optimizer.pt').unlink()
    model2 = tiny_speech_lm(CFG, seed=1)
    opt2 = dist.make_optimizer(model2, CFG.train)
    assert dist.load_checkpoint(ck, model2, opt2, torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0)) == 1
    for p, q in zip(model.adapter.parameters(), model2.adapter.parameters()):
        assert torch.equal(p, q) and torch.equal(opt.state[p]['exp_avg'], opt2.state[q]['exp_avg'])

def test_non_finite_results_never_reach_json(tmp_path):
    "Defect 3: lr=nan trained NaN weights and wrote non-standard JSON."
    with pytest.raises(ValueError, match='loss is nan'): write_json(tmp_path/'m.json', {'loss': float('nan')})
    assert not (tmp_path/'m.json').exists()

@pytest.mark.parametrize('override, message', [
    ({'train': {'steps': -5}}, 'train.steps must be a finite number >= 1, got -5'),
    ({'train': {'lr_adapter': float('nan')}}, 'train.lr_adapter must be a finite number > 0, got nan'),
    ({'train': {'checkpoint_every': 0}}, 'train.checkpoint_every must be a finite number >= 1, got 0'),
    ({'train': {'alpha': 1.5}}, 'train.alpha must be a number in [0, 1], got 1.5'),
    ({'eval': {'voices': ['piper']}}, "eval.voices must be a list of 'engine:voice' names"),
    ({'data': {'tasks': ['arc']}}, 'data.tasks must be'),
])
def test_ranges_checked_before_anything_loads(override, message):
    "Defect 3: no range checks; alpha=1.5 failed only after the models were loaded."
    with pytest.raises(ConfigError) as e: get_config('tiny', override)
    assert message in str(e.value)

def test_config_file_keeps_set_and_refuses_preset(tmp_path):
    "Defect 1: --config FILE silently dropped --set and --preset."
    f = save_config(get_config('tiny'), tmp_path/'my.yaml')
    ns = lambda **k: argparse.Namespace(**dict(dict(config=None, preset=None, set=[]), **k))
    cfg = _config(ns(config=str(f), set=['train.steps=3', 'eval.bootstrap=50']))
    assert (cfg.train.steps, cfg.eval.bootstrap, cfg.data.stage1_passages) == (3, 50, 10)
    with pytest.raises(ConfigError, match='not both'): _config(ns(config=str(f), preset='cpu'))

def test_empty_yaml_is_not_a_cpu_run(tmp_path):
    "Defect 7: an empty YAML gave defaults labelled `cpu` that were not the cpu preset."
    (tmp_path/'e.yaml').write_text('')
    with pytest.raises(ConfigError, match='is empty'): _config(argparse.Namespace(config=str(tmp_path/'e.yaml'), preset=None, set=[]))
    (tmp_path/'p.yaml').write_text('train: {steps: 3}\n')
    assert _config(argparse.Namespace(config=str(tmp_path/'p.yaml'), preset=None, set=[])).name == 'p'

def test_trailing_slash_is_the_same_target(tmp_path):
    "Defect 7: `runs/x/` and `runs/x` counted as two targets."
    _train(CFG, tmp_path/'run')
    a = salad.runs.target_identity(CFG, str(tmp_path/'run') + '/')
    b = salad.runs.target_identity(CFG, tmp_path/'run'/'final')
    assert a == b and a['weights']

def _cli(argv, capsys):
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err.splitlines()[-1]  # after any progress bars: one line, no traceback
    assert e.value.code == 2 and err.startswith('salad: error: '), err
    return err

def test_corrupt_weights_and_refused_pickle_are_one_line(tmp_path, capsys):
    "Defect 5: a corrupt safetensors file or a refused pickle gave a traceback."
    _train(CFG, tmp_path/'run')
    m = tmp_path/'run'/'final'
    (m/'trainable.safetensors').write_bytes(b'\0' * 64)
    err = _cli(['evaluate', str(m), '--preset', 'tiny', '--out', str(tmp_path/'e')], capsys)
    assert 'trainable.safetensors: corrupt' in err
    ck = dist.latest_checkpoint(tmp_path/'run')
    torch.save({'step': Path('not a tensor')}, ck/'state.pt')
    model = tiny_speech_lm(CFG)
    opt = dist.make_optimizer(model, CFG.train)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(RunError, match='state.pt: refused or corrupt'): dist.load_checkpoint(ck, model, opt, sched)

# ---------------------------------------------------------------- the real tiny pipeline (slow: real models)
@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')/'tiny'
    salad.data.build_data(get_config('tiny'), d, progress=False)
    return d

STAGE1 = get_config('tiny', {'train': {'align_steps': 4, 'align_batch': 2}})

@pytest.fixture(scope='module')
def stage1_ref(tiny_data, tmp_path_factory):
    run = tmp_path_factory.mktemp('ref')/'stage1'
    return run, salad.stage1.stage1(STAGE1, run, tiny_data, progress=False)

KILLS = {  # where a Stage I run dies: (object, function, nth call, after running it)
    'after the before-step': (salad.stage1, 'align_adapter', 1, False),
    'inside alignment': (dist, 'ctc_align_loss', 3, False),
    'after a checkpoint': (dist, 'save_checkpoint', 1, True),
    'after training, before the final metrics': (dist, '_final', 1, True),
}

@pytest.mark.slow
@pytest.mark.parametrize('where', list(KILLS))
def test_stage1_killed_then_rerun_equals_uninterrupted(where, tiny_data, stage1_ref, tmp_path, monkeypatch):
    "Defect 2 and the kill test: one metrics.json was the done marker of several steps."
    ref_run, ref = stage1_ref
    obj, name, nth, after = KILLS[where]
    _kill_on(monkeypatch, obj, name, nth, after)
    with pytest.raises(Killed): salad.stage1.stage1(STAGE1, tmp_path/'run', tiny_data, progress=False)
    monkeypatch.undo()
    assert not (tmp_path/'run'/'steps'/'after.json').exists()
    res = salad.stage1.stage1(STAGE1, tmp_path/'run', tiny_data, progress=False)
    assert _strip(res) == _strip(ref)
    for k in ('M_before', 'M_aligned', 'M', 'M_mismatched', 'F'): assert res[k] is not None, k  # no metric lost
    _same_weights(ref_run/'final'/'trainable.safetensors', tmp_path/'run'/'final'/'trainable.safetensors')

@pytest.mark.slow
def test_stage1_refuses_data_built_with_other_settings(tiny_data, tmp_path):
    "Defect 1: `salad stage1` trained on existing data after data.* changed."
    other = get_config('tiny', {'data': {'items_per_task': 3}})
    with pytest.raises(RunError, match=r'data.items_per_task: 2 -> 3.*--force'):
        salad.stage1.stage1(other, tmp_path/'run', tiny_data, progress=False)
    assert not (tmp_path/'run').exists()  # refused before anything was written

@pytest.mark.slow
def test_data_build_killed_then_rerun(tiny_data, tmp_path, monkeypatch):
    _kill_on(monkeypatch, salad.data, 'broad_text_pool')
    with pytest.raises(Killed): salad.data.build_data(get_config('tiny'), tmp_path/'d', progress=False)
    monkeypatch.undo()
    assert not (tmp_path/'d'/'steps'/'data.json').exists() and (tmp_path/'d'/'stage1').exists()
    res = salad.data.build_data(get_config('tiny'), tmp_path/'d', progress=False)
    assert _strip(res) == _strip(json.loads((tiny_data/'summary.json').read_text()))
    for part in ('stage1', 'pool', 'benchmarks/piqa'):
        assert salad.data.load_data(tmp_path/'d', part).to_list() == salad.data.load_data(tiny_data, part).to_list(), part

EVAL = get_config('tiny', {'eval': {'probe_passages': 2}})

@pytest.fixture(scope='module')
def eval_ref(tmp_path_factory):
    out = tmp_path_factory.mktemp('eval')/'base'
    return salad.evaluate.evaluate_target(EVAL, 'base', out, progress=False)

@pytest.mark.slow
@pytest.mark.parametrize('where', [(salad.evaluate, 'transcribe_cached'), (salad.evaluate, 'broad_probe'),
                                   (salad.evaluate, 'write_report')], ids=lambda w: w[1])
def test_evaluation_killed_then_rerun(where, eval_ref, tmp_path, monkeypatch):
    monkeypatch.setattr(salad.evaluate, 'shared_score_key', lambda *a: None)  # rescore: the kill must be reached
    _kill_on(monkeypatch, *where)
    with pytest.raises(Killed): salad.evaluate.evaluate_target(EVAL, 'base', tmp_path/'e', progress=False)
    monkeypatch.undo()
    res = salad.evaluate.evaluate_target(EVAL, 'base', tmp_path/'e', progress=False)
    assert _strip(res) == _strip(eval_ref) and res['probe']['M'] is not None

@pytest.mark.slow
def test_evaluation_refuses_scores_of_another_model(eval_ref, tmp_path):
    "Defect 1: `salad evaluate` reused cached scores after a change to the `model` section."
    salad.evaluate.evaluate_target(EVAL, 'base', tmp_path/'e', progress=False)
    other = get_config('tiny', {'eval': {'probe_passages': 2}, 'model': {'adapter_dim': 32}})
    with pytest.raises(RunError, match='model.adapter_dim: 64 -> 32'):
        salad.evaluate.evaluate_target(other, 'base', tmp_path/'e', progress=False)

def _speak_folder(folder, n=40):
    "A custom corpus: n utterances spoken by a TTS voice, each with its transcript beside it."
    folder.mkdir(parents=True)
    voice = 'flite:awb' if 'flite:awb' in list_voices() else list_voices()[0]
    for i in range(n):
        text = f'This is sentence number {i + 1} of my own small corpus.'
        sf.write(folder/f'utt{i:02d}.wav', synthesize(text, voice), 16000)
        (folder/f'utt{i:02d}.txt').write_text(text)
    return folder

@pytest.mark.slow
def test_custom_corpus_runs_stage1_end_to_end(tmp_path):
    "Defect 4: data.stage1_source=folder failed with a span_kinds error; files were not validated."
    src = _speak_folder(tmp_path/'corpus')
    cfg = get_config('tiny', {'data': {'stage1_source': str(src)}})
    s = salad.data.build_data(cfg, tmp_path/'d', progress=False)
    assert s['stage1']['utterances'] == 40 and s['stage1']['examples'] == 10  # 4 utterances a passage
    m = salad.stage1.stage1(cfg, tmp_path/'run', tmp_path/'d', progress=False)
    assert m['probe_examples'] == 2 and m['M'] > 0 and (tmp_path/'run'/'final'/'trainable.safetensors').exists()
    (src/'utt03.txt').unlink()
    with pytest.raises(salad.audio.AudioError, match=r'utt03.wav: transcript missing'):
        salad.data.build_data(cfg, tmp_path/'d2', progress=False)

@pytest.mark.slow
@pytest.mark.parametrize('backend', ['ct2', 'hf'])
def test_long_audio_is_transcribed_whole(backend):
    "Defect 6: `transcribe` silently truncated audio over 30 s (both ASR backends chunk it)."
    from salad.assets import load_asr
    from salad.audio import transcribe
    voice = 'flite:slt' if 'flite:slt' in list_voices() else list_voices()[0]
    a, b = synthesize('The weather is sunny today.', voice), synthesize('Bring an umbrella tomorrow.', voice)
    wav = np.concatenate([a, np.zeros(16000 * 31 - len(a), np.float32), b])  # b starts after 31 s
    model, proc = load_asr('whisper-tiny.en', backend)
    text, = transcribe(model, proc, [wav])
    assert 'sunny' in text.lower() and 'umbrella' in text.lower(), text
