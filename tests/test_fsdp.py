"""Checkpoints of a sharded model: what 2 FSDP (or DDP) processes write is what one process writes, and both resume.

accelerate runs FSDP on GPUs only, so the script shards the model itself with torch's `fully_shard` (FSDP2,
gloo on the CPU) and drives salad's own checkpoint functions: `gathered_state` + `save_checkpoint` after
two optimizer steps on the same batch in every process (so 2 processes step as 1 does), then a fresh model
loads the checkpoint (`load_checkpoint`) and both take a third step.
"""
import os, subprocess, sys
import pytest, torch

SCRIPT = """
import sys, torch, torch.distributed as dist
from pathlib import Path
import salad.train as d
from salad.adapter import collate_interleaved
from salad.config import get_config
from salad.losses import marked_salad_loss, scored_positions
from salad.adapter import SpeechLM
from salad.testing import synthetic_examples, tiny_llama
out, wrap, load_from = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
if 'RANK' in __import__('os').environ:
    dist.init_process_group('gloo')
cfg = get_config('tiny', {'model': {'llm_training': 'full'}, 'train': {'lr_llm': 1e-2, 'lr_adapter': 1e-2}})
batch = collate_interleaved(synthetic_examples(4, 64, 12), cfg.model.stack)

def build(shift):
    llm = tiny_llama()  # the same base LLM, and so the same frozen teacher copy
    llm.lm_head.weight = llm.model.embed_tokens.weight  # tied, as Qwen2.5-3B's: saved once, under one name
    model = SpeechLM(cfg.model, llm, 12, 'synthetic')
    with torch.no_grad():
        for p in model.parameters():
            p.add_(shift)  # other trained weights: all a loaded model ends with comes from the checkpoint
    if dist.is_initialized() and wrap == 'fsdp':
        from torch.distributed.fsdp import fully_shard
        for layer in model.llm.model.layers:
            fully_shard(layer)
        fully_shard(model)
    opt = d.make_optimizer(model, cfg.train)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    if dist.is_initialized() and wrap == 'ddp':
        model = torch.nn.parallel.DistributedDataParallel(model)
    return model, opt, sched

def step(model, opt, sched):
    inner = getattr(model, 'module', model)
    logits = model(batch, positions=scored_positions(batch))  # as `Trainer.loss`: the head inside forward
    marked_salad_loss(logits, inner.teacher_logits(batch), batch, 0.5, 1.0)['loss'].backward()
    opt.step(); opt.zero_grad(); sched.step()

model, opt, sched = build(0)
for _ in range(2):
    step(model, opt, sched)
weights, optim = d.gathered_state(model, opt)
main = not dist.is_initialized() or dist.get_rank() == 0
if main:
    d.save_checkpoint(out, 2, getattr(model, 'module', model), dict(weights=weights, optimizer=optim, scheduler=sched.state_dict()), cfg)
if dist.is_initialized():
    dist.barrier()
loaded = build(0.5)
ck = Path(load_from) / 'checkpoints' / 'step-000002'
assert d.load_checkpoint(ck, *loaded) == 2
for name, m in (('whole', (model, opt, sched)), ('loaded', loaded)):
    step(*m)
    w, o = d.gathered_state(m[0], m[1])
    if main:
        torch.save(dict(weights=w, optimizer=o, lr=m[2].get_last_lr()), out / f'{name}.pt')
"""

def _run(script, out, nproc, wrap, load_from, port):
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port',
                        str(port), str(script), str(out), wrap, str(load_from)], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-4000:]

def _close(a: dict, b: dict, what: str):
    assert set(a) == set(b), (what, set(a) ^ set(b))
    for k in a:
        if isinstance(a[k], dict):
            _close(a[k], b[k], f'{what}.{k}')
        elif isinstance(a[k], torch.Tensor):
            assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), (what, k, (a[k] - b[k]).abs().max())

@pytest.mark.parametrize('wrap', ['fsdp', 'ddp'])
def test_sharded_checkpoints_equal_one_process_and_resume(tmp_path, wrap):
    from safetensors.torch import load_file
    script = tmp_path/'ck.py'
    script.write_text(SCRIPT)
    _run(script, tmp_path/'two', 2, wrap, tmp_path/'two', 29541)
    _run(script, tmp_path/'one', 1, wrap, tmp_path/'two', 29542)  # one process resumes the 2-process checkpoint
    ck = {k: tmp_path/k/'checkpoints'/'step-000002' for k in ('two', 'one')}
    w2, w1 = (load_file(ck[k]/'model'/'trainable.safetensors') for k in ('two', 'one'))
    assert any(k.startswith('llm.') for k in w2) and len(w2) == len(w1) > 20  # the whole LLM, gathered
    _close(w2, w1, 'weights')
    o2, o1 = (torch.load(ck[k]/'optimizer.pt', weights_only=True) for k in ('two', 'one'))
    assert 'llm.lm_head.weight' not in w2 and 'llm.model.embed_tokens.weight' in w2  # tied: one name
    assert set(o2['state']) == set(w2) and 'exp_avg_sq' in o2['state']['llm.model.embed_tokens.weight']  # by name
    _close(o2['state'], o1['state'], 'optimizer')
    for k in ('two', 'one'):
        whole, loaded = (torch.load(tmp_path/k/f'{n}.pt', weights_only=True) for n in ('whole', 'loaded'))
        assert whole['lr'] == loaded['lr']
        _close(whole['weights'], loaded['weights'], f'{k} weights after resuming')
        _close(whole['optimizer']['state'], loaded['optimizer']['state'], f'{k} optimizer after resuming')
