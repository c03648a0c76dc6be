"""How fast can Stage I learn content when the speech features are trivially informative?

Usage: python bench/oracle_features.py [--data $SALAD_HOME/data/cpu] [--steps 60] [--lr 2e-3] [--noise 0.5] [--window 16]
Every speech span's "features" are its transcript's token embeddings (standardised, 4 frames per token,
plus Gaussian noise), so a near-linear adapter maps them back exactly and a perfect student exists.
The cpu preset's stack-4 MLP adapter is trained with `train_stage` (KD, frozen SmolLM2) on span windows
of the training passages; M and its mismatched-speech control are printed before and after on 32
held-out passages. It bounds what the real (Whisper) features can do in the same number of steps.
"""
import argparse, shutil, tempfile
import torch
from salad.adapter import SpeechLM, tokenize_spans
from salad.assets import load_llm, salad_home
from salad.config import parse_overrides
from salad.config import get_config
from salad.data import load_data
from salad.adapter import window_examples
from salad.stage1 import n_held_out
from salad.train import train_stage
from salad.metrics import alignment_metrics

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default=None); p.add_argument('--steps', type=int, default=60); p.add_argument('--lr', default='2e-3')
    p.add_argument('--noise', type=float, default=0.5); p.add_argument('--window', type=int, default=16)
    a = p.parse_args()
    cfg = get_config('cpu', parse_overrides([f'train.steps={a.steps}', f'train.lr_adapter={a.lr}', 'train.eval_every=0',
                                             f'train.checkpoint_every={a.steps}', 'train.warmup_steps=10']))
    llm, tok = load_llm(cfg.model.llm); emb = llm.get_input_embeddings().weight.detach()
    rows = load_data(a.data or salad_home()/'data'/cfg.name, 'stage1').to_list()
    g, exs = torch.Generator().manual_seed(0), []
    for r in rows:
        spans = tokenize_spans(tok, list(zip(r['span_kinds'], r['span_texts'])))
        for sp in spans:
            if sp['kind'] == 'speech':
                f = emb[sp['ids']].repeat_interleave(4, 0)
                sp['feats'] = f / f.std() + a.noise * torch.randn(f.shape, generator=g)
        exs.append(spans)
    n_probe = n_held_out(len(exs), cfg.train.probe_examples)
    probe, train = exs[:32], window_examples(exs[n_probe:], a.window, a.window)
    torch.manual_seed(0); model = SpeechLM(cfg.model, llm, emb.shape[1], 'oracle')
    show = lambda when, m: print(f"{when:>6s}: M {m['M']:.3f}, mismatched {m['M_mismatched']:.3f}, ratio {m['M_ratio']:.3f}; "
                                 f"M_next {m['M_next']:.3f}, mismatched {m['M_next_mismatched']:.3f}, ratio {m['M_next_ratio']:.3f}", flush=True)
    show('before', alignment_metrics(model, probe))
    run = tempfile.mkdtemp()
    try: train_stage(cfg, model, train, run, progress=False)
    finally: shutil.rmtree(run)
    show(f'after {a.steps} steps (lr {a.lr}, noise {a.noise}, {len(train)} windows)', alignment_metrics(model, probe))

if __name__ == '__main__': main()
