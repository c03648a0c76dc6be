"The multi-GPU path is not broken: 2-process DDP on CPU (gloo) via torchrun with a tiny config."
import json, os, subprocess, sys
from pathlib import Path

SCRIPT = """
import sys, torch, salad.distillation as d
from salad.config import get_config
cfg = get_config('tiny', {'train': {'steps': 4, 'checkpoint_every': 2}})
out = d.train_stage(cfg, d.tiny_speech_lm(cfg), d.synthetic_examples(16, 64, 12), sys.argv[1], progress=False)
import json, pathlib, torch.distributed as dist
pathlib.Path(sys.argv[1], f'rank{dist.get_rank()}.json').write_text(json.dumps(dict(world=dist.get_world_size(), **out)))
"""

def test_two_process_ddp_on_cpu(tmp_path):
    script = tmp_path/'train.py'; script.write_text(SCRIPT)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29531',
                        str(script), str(tmp_path/'run')], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    ranks = [json.loads((tmp_path/'run'/f'rank{i}.json').read_text()) for i in (0, 1)]  # one file each: no interleaving
    assert [r['world'] for r in ranks] == [2, 2] and all(r['step'] == 4 for r in ranks)
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['step'] == 4 and m['loss'] == m['loss']  # finished, finite
    assert (tmp_path/'run'/'checkpoints'/'step-000004'/'model'/'trainable.safetensors').exists()
