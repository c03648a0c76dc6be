"""Does the adapter carry what was said? M and M_next, each with its mismatched-speech control, on the Stage I held-out passages.

Usage: python bench/content_probe.py runs/cpu/stage1 [more runs or checkpoints ...] [--data $SALAD_HOME/data/cpu] [--untrained]
Each run folder's (or checkpoint folder's) `config.yaml` gives the model and the held-out split (the first
`train.probe_examples` Stage I passages, as `salad.stage1.stage1` holds them out); its `final/`
(a checkpoint's `model/`) folder gives the weights.
`--untrained` adds the first run's architecture with a freshly initialised adapter (seed `train.seed`).
M averages KL(text reading ‖ speech reading) over every text position; M_next only over the first text
token after each speech span, where the spoken words matter most. A ratio near 1 means the adapter's
output does not depend on what was said.
"""
import argparse
from pathlib import Path
import torch
from salad.adapter import SpeechLM, load_speech_encoder, load_speech_lm
from salad.assets import load_llm, salad_home
from salad.config import load_config
from salad.data import load_data
from salad.cache import FeatureCache
from salad.adapter import prepare_examples
from salad.stage1 import n_held_out
from salad.metrics import alignment_metrics

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+'); p.add_argument('--data', default=None); p.add_argument('--untrained', action='store_true')
    a = p.parse_args()
    cfg = load_config(Path(a.runs[0])/'config.yaml')
    data = Path(a.data) if a.data else salad_home()/'data'/cfg.name
    rows = load_data(data, 'stage1').to_list()
    n_probe = n_held_out(len(rows), cfg.train.probe_examples)
    enc = load_speech_encoder(cfg.model.encoder, cfg.model.encoder_mode)
    llm, tok = load_llm(cfg.model.llm)
    probe = prepare_examples(rows[:n_probe], tok, FeatureCache(salad_home()/'features', enc), progress=False)
    print(f"{n_probe} held-out passages from {data}; KL in nats per text token")
    print(f"{'model':40s} {'M':>7s} {'M mism.':>7s} {'ratio':>6s} {'M_next':>7s} {'mism.':>7s} {'ratio':>6s}")
    def show(name, model):
        m = alignment_metrics(model, probe)
        print(f"{name:40s} {m['M']:7.3f} {m['M_mismatched']:7.3f} {m['M_ratio']:6.3f} {m['M_next']:7.3f} {m['M_next_mismatched']:7.3f} {m['M_next_ratio']:6.3f}", flush=True)
    if a.untrained:
        torch.manual_seed(cfg.train.seed); show('untrained adapter', SpeechLM(cfg.model, llm, enc.dim, enc.key))
    for r in a.runs:
        llm, _ = load_llm(load_config(Path(r)/'config.yaml').model.llm)
        show(r, load_speech_lm(Path(r)/'final' if (Path(r)/'final').exists() else Path(r)/'model', llm=llm))

if __name__ == '__main__': main()
