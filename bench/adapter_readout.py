"""What does the adapter say? Each speech position's nearest LLM token (cosine), beside the transcript.

Usage: python bench/adapter_readout.py MODEL [--data $SALAD_HOME/data/cpu] [--passages 3]
MODEL is a `save_speech_lm` folder (e.g. runs/cpu/stage1-ctc/align/model or a run's final/).
The first passages of the Stage I data are the held-out ones (`salad.stage1.n_held_out`).
"""
import argparse, json
from pathlib import Path
import torch, torch.nn.functional as F
from salad.adapter import load_speech_encoder, load_speech_lm
from salad.assets import load_llm, salad_home
from salad.data import load_data
from salad.cache import FeatureCache
from salad.adapter import prepare_examples

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('model'); p.add_argument('--data', default=None); p.add_argument('--passages', type=int, default=3)
    a = p.parse_args()
    llm, tok = load_llm(json.loads((Path(a.model)/'config.json').read_text())['model']['llm'])
    m = load_speech_lm(a.model, llm).eval()
    enc = load_speech_encoder(m.cfg.encoder, m.cfg.encoder_mode)
    rows = load_data(a.data or salad_home()/'data'/'cpu', 'stage1').to_list()[:a.passages]
    exs = prepare_examples(rows, tok, FeatureCache(salad_home()/'features', enc), progress=False)
    E = F.normalize(llm.get_input_embeddings().weight.detach().float(), dim=-1)
    with torch.no_grad():
        for sp in (sp for ex in exs for sp in ex if sp['kind'] == 'speech'):
            cos, idx = (F.normalize(m.speech_embeds(sp['feats'][None])[0].float(), dim=-1) @ E.T).max(-1)
            print('transcript:', tok.decode(sp['ids']).strip())
            print('readout   :', ' | '.join(f'{tok.decode([i]).strip() or repr(tok.decode([i]))}({c:.2f})' for i, c in zip(idx.tolist(), cos.tolist())), '\n')

if __name__ == '__main__': main()
