"""Stage II on the tiny preset: killed at several points and rerun, it ends where an uninterrupted run ends,
without redoing finished synthesis; the selection is deterministic and never picks a forbidden text."""
import json
from pathlib import Path
import numpy as np, pytest
import salad.data, salad.selection, salad.stage1, salad.stage2, salad.evaluate, salad.assets, salad.train as dist
from salad.config import get_config
from salad.runs import read_json, read_jsonl
from test_reliability import Killed, _kill_on, _same_weights, _strip

CFG = get_config('tiny')

@pytest.fixture(scope='module')
def stage1_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('s2')
    salad.data.build_data(CFG, root/'data', progress=False)
    salad.stage1.stage1(CFG, root/'stage1', root/'data', progress=False)
    return root

@pytest.fixture(scope='module')
def stage2_ref(stage1_run):
    run = stage1_run/'ref'
    return run, salad.stage2.stage2(CFG, run, stage1_run/'stage1', stage1_run/'data', progress=False)

def _audio_files():
    return set((salad.assets.salad_home() / 'audio').rglob('*.flac'))

KILLS = {  # where a Stage II run dies: (object, function, nth call, after running it)
    'after the selection synthesized its picks': (salad.stage2, 'take_budget', 1, True),
    'after a training checkpoint': (dist, 'save_checkpoint', 1, True),
    'after training, measuring M per cluster': (salad.stage2, 'cluster_misalignment', 1, False),  # the probe's M is shared
}

@pytest.mark.slow
@pytest.mark.parametrize('where', list(KILLS))
def test_stage2_killed_then_rerun_equals_uninterrupted(where, stage1_run, stage2_ref, tmp_path, monkeypatch):
    ref_run, ref = stage2_ref
    obj, name, nth, after = KILLS[where]
    _kill_on(monkeypatch, obj, name, nth, after)
    with pytest.raises(Killed):
        salad.stage2.stage2(CFG, tmp_path/'run', stage1_run/'stage1', stage1_run/'data', progress=False)
    monkeypatch.undo()
    assert not (tmp_path/'run'/'steps'/'after.json').exists()
    before = _audio_files()
    res = salad.stage2.stage2(CFG, tmp_path/'run', stage1_run/'stage1', stage1_run/'data', progress=False)
    assert _audio_files() == before  # nothing synthesized again: the picks' speech was cached
    assert _strip(res) == _strip(ref)
    assert [p['id'] for p in read_jsonl(tmp_path/'run'/'picks.jsonl')] == [p['id'] for p in read_jsonl(ref_run/'picks.jsonl')]
    _same_weights(ref_run/'final'/'trainable.safetensors', tmp_path/'run'/'final'/'trainable.safetensors')

@pytest.mark.slow
def test_selection_never_picks_forbidden_texts(stage1_run, stage2_ref, monkeypatch):
    "No pick is an evaluation-probe text, a cluster-probe text, a Stage I text or holds a benchmark question."
    run, _ = stage2_ref
    pool = salad.data.load_data(stage1_run/'data', 'pool')
    eligible = salad.stage2.eligible_texts(CFG, pool, stage1_run/'data')
    spoken = []  # the passages the evaluation speaks for its F/M probe (the speech itself is not needed)
    monkeypatch.setattr(salad.evaluate, 'speak_passages', lambda passages, *a: spoken.extend(passages) or [])
    salad.evaluate.broad_probe(CFG, CFG.data.eval_voice, progress=False)
    held = {t for _, t in spoken}
    assert len(held) == CFG.eval.probe_passages and held <= set(pool['text'])  # drawn from this run's pool
    probed = {pool['id'][i] for c in read_json(run/'probe.json')['clusters'] for i in c['probe']}
    idx = {pid: i for i, pid in enumerate(pool['id'])}
    picks = read_jsonl(run/'picks.jsonl')
    assert picks and all(eligible[idx[p['id']]] for p in picks)
    assert not {p['id'] for p in picks} & probed and not {pool['text'][idx[p['id']]] for p in picks} & held
    assert not eligible[[i for i, t in enumerate(pool['text']) if t in held]].any()
    # a pool text copied from the Stage I corpus is never eligible
    stage1_text = salad.data.load_data(stage1_run/'data', 'stage1')['text'][0]
    fake = pool.add_item(dict(id='pool-fake', text=stage1_text, source='drop'))
    assert not salad.stage2.eligible_texts(CFG, fake, stage1_run/'data')[-1]

@pytest.mark.slow
def test_cluster_over_cer_threshold_is_dropped(stage1_run, stage2_ref, tmp_path):
    "A CER threshold below every cluster's probe CER drops them all: nothing can be picked, and it says so."
    run, _ = stage2_ref
    cers = [c['cer'] for c in read_json(run/'probe.json')['clusters']]
    cut = sorted(cers)[-1] - 1e-9  # drops the worst cluster only
    cfg = get_config('tiny', {'stage2': {'max_cer': cut}})
    salad.stage2.stage2(cfg, tmp_path/'r', stage1_run/'stage1', stage1_run/'data', progress=False)
    sel = read_json(tmp_path/'r'/'selection.json')
    worst = int(np.argmax(cers))
    assert list(sel['dropped']) == [str(worst)] and not sel['clusters'][worst]['kept']
    assert sel['clusters'][worst]['P_target'] == 0 and all(p['cluster'] != worst for p in read_jsonl(tmp_path/'r'/'picks.jsonl'))

@pytest.mark.parametrize('mode', ['lora', 'full'])
def test_stage2_training_path_trains_lora_and_full(mode, tmp_path):
    "Stage II's training path with a trained LLM: pre-decay weights in, the mix (+ replay), LR to 0, teacher fixed."
    import torch
    from salad.runs import load_tensors
    from salad.testing import synthetic_examples, tiny_speech_lm
    cfg = get_config('tiny', {'model': {'llm_training': mode}, 'train': {'replay_share': 0.3}})
    ex = synthetic_examples(12, 64, 12)
    replay = [[dict(kind='text', ids=e[0]['ids'] * 3)] for e in ex]
    dist.train_stage(cfg, tiny_speech_lm(cfg), dist.TrainData(ex, replay=replay), tmp_path/'s1', progress=False)  # a tiny Stage I
    ck = salad.stage2.pre_decay_checkpoint(tmp_path/'s1')
    assert ck.name == 'step-000005'
    model = tiny_speech_lm(cfg)
    model.load_state_dict(load_tensors(ck/'model'/'trainable.safetensors'), strict=False)
    start = {k: v.clone() for k, v in model.trainable_state_dict().items()}
    assert any(('lora' in k) if mode == 'lora' else k.startswith('llm.') for k in start)
    probe = [e for e in ex[:2]]
    from salad.adapter import collate_interleaved
    batch = collate_interleaved(probe, model.cfg.stack)
    teacher = model.teacher_logits(batch)
    mixed = salad.stage2.mix_examples([ex[:8], ex[8:]], [0.5, 0.5], seed=0)
    res = dist.train_stage(salad.stage2.stage2_train_config(cfg), model, dist.TrainData(mixed, replay=replay), tmp_path/'s2', progress=False)
    assert res['step'] == cfg.stage2.steps and res['lr'] == 0.0  # decayed to 0
    end = model.trainable_state_dict()
    moved = [k for k in start if not torch.equal(start[k], end[k])]
    assert any(not k.startswith('adapter.') for k in moved), moved  # the LLM (LoRA or full) trained too
    assert torch.allclose(model.teacher_logits(batch), teacher)  # the teacher is the original LLM throughout

def _fake_eval(d: Path, correct: dict):
    "An evaluation folder whose speech reading is right on the items marked 1 ({task: [0/1 per item]})."
    from salad.config import save_config
    from salad.evaluate import mc_metrics
    from salad.report import write_report
    from salad.runs import write_jsonl
    cfg = get_config('tiny', {'eval': {'bootstrap': 200}})
    (d/'scores').mkdir(parents=True)
    save_config(cfg, d/'config.yaml')
    (d/'target.json').write_text(json.dumps(dict(target=d.name, llm='x', encoder='y', encoder_mode='unpadded',
                                                 adapter='stack_mlp', llm_training='frozen')))
    for t, ok in correct.items():
        s = [[0.0, -1.0] if c else [-1.0, 0.0] for c in ok]
        write_jsonl(d/'scores'/f'{t}.speech@flite:slt.jsonl',
                    [dict(id=f'{t}{i}', gold=0, scores=x, **mc_metrics(x, [' a', ' b'], 0)) for i, x in enumerate(s)])
    write_report(d, cfg)

def test_salad_compare_writes_paired_and_cluster_tables(tmp_path, capsys):
    from salad.cli import main
    _fake_eval(tmp_path/'active', {'arc_easy': [1] * 30 + [0] * 10, 'piqa': [1, 0] * 20})
    _fake_eval(tmp_path/'uniform', {'arc_easy': [1] * 20 + [0] * 20, 'piqa': [1, 0] * 20})
    for arm, drop in (('s2-active', 0.3), ('s2-uniform', 0.1)):
        (tmp_path/arm).mkdir()
        (tmp_path/arm/'metrics.json').write_text(json.dumps(dict(clusters=[
            dict(cluster=c, M_before=1.0 + c, M_mismatched_before=2.0, M_after=1.0 + c - drop, M_mismatched_after=2.0)
            for c in range(10)])))
    main(['compare', str(tmp_path/'active'), str(tmp_path/'uniform'), '--out', str(tmp_path/'cmp'),
          '--stage2', str(tmp_path/'s2-active'), str(tmp_path/'s2-uniform')])
    out = capsys.readouterr().out
    assert '| arc_easy | 40 |' in out and '+25.0' in out and (tmp_path/'cmp'/'paired_comparison.md').exists()
    assert '| top 8 by M before | 6.500 | 6.200 (2.000) | 6.400 (2.000) |' in (tmp_path/'cmp'/'cluster_m.md').read_text()
    assert (tmp_path/'cmp'/'cluster_m.png').exists() and (tmp_path/'cmp'/'comparison.md').exists()
