"""DDP is correct, not only alive: 2 processes x batch b train to the same weights as 1 process x batch 2b.

Both runs go through the same script under torchrun (gloo on CPU). The examples all have the same
length, so each rank's mean loss over its own positions averages to the mean over the whole batch,
and the two runs see the same examples at every step (`batch_indices` shards a step's examples by rank).
"""
import json, os, subprocess, sys
from pathlib import Path
import torch
from safetensors.torch import load_file

SCRIPT = """
import json, pathlib, sys, torch, torch.distributed as dist
import salad.train as d
from salad.testing import tiny_speech_lm
from salad.config import get_config
run, batch = sys.argv[1], int(sys.argv[2])
cfg = get_config('tiny', {'train': {'steps': 4, 'checkpoint_every': 2, 'batch_size': batch, 'lr_adapter': 1e-2}})
g = torch.Generator().manual_seed(0)
def example():  # text 3 tokens, speech 3 tokens (12 frames), text 3 tokens: every example the same length
    ids = torch.randint(1, 64, (9,), generator=g).tolist()
    return [dict(kind='text', ids=ids[:3]), dict(kind='speech', ids=ids[3:6], feats=torch.randn(12, 12, generator=g)),
            dict(kind='text', ids=ids[6:])]
model = tiny_speech_lm(cfg)
out = d.train_stage(cfg, model, [example() for _ in range(16)], run, progress=False)
rank = dist.get_rank() if dist.is_initialized() else 0
from safetensors.torch import save_file
save_file({k: v.contiguous() for k, v in model.trainable_state_dict().items()}, f'{run}/rank{rank}.safetensors')
world = dist.get_world_size() if dist.is_initialized() else 1
pathlib.Path(run, f'rank{rank}.json').write_text(json.dumps(dict(world=world, **out)))
"""

def _torchrun(script, run, nproc, batch, port):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port', str(port),
                        str(script), str(run), str(batch)], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-4000:]

def test_two_process_ddp_equals_one_process_with_the_whole_batch(tmp_path):
    script = tmp_path/'train.py'
    script.write_text(SCRIPT)
    _torchrun(script, tmp_path/'ddp', 2, 2, 29531)
    _torchrun(script, tmp_path/'one', 1, 4, 29532)
    ranks = [json.loads((tmp_path/'ddp'/f'rank{i}.json').read_text()) for i in (0, 1)]  # one file each: no interleaving
    assert [r['world'] for r in ranks] == [2, 2] and all(r['step'] == 4 for r in ranks)
    r0, r1 = (load_file(tmp_path/'ddp'/f'rank{i}.safetensors') for i in (0, 1))
    one = load_file(tmp_path/'one'/'rank0.safetensors')
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # the replicas stay identical
        assert torch.allclose(r0[k], one[k], atol=1e-5), (k, (r0[k] - one[k]).abs().max())  # = one process, batch 2b
    first = load_file(tmp_path/'ddp'/'checkpoints'/'step-000003'/'model'/'trainable.safetensors')  # pre-decay: kept
    assert any(not torch.equal(first[k], r0[k]) for k in r0)  # and the weights did move between steps 3 and 4
    m = json.loads((tmp_path/'ddp'/'metrics.json').read_text())
    assert m['step'] == 4 and (tmp_path/'ddp'/'checkpoints'/'step-000004'/'model'/'trainable.safetensors').exists()
