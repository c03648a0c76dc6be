"""Seconds per training step and tokens/s: with and without the encoder feature cache, and with the teacher cache.

Usage: python bench/train_step.py [--preset cpu] [--steps 5] [--data DIR] [--topk 32]
Uses the preset's model and batch size on real data (`salad data build --preset <preset>` first;
falls back to building the tiny data). "with cache": features precomputed (what training does);
"without cache": the frozen encoder runs on every speech span of every batch.
"teacher cache": features cached and KD from cached top-k teacher log-probs (filled before timing,
as in a second epoch, a resumed run or a later stage), so the teacher never runs.
"""
import tempfile
import argparse, time
import torch
from salad.assets import load_llm, salad_home
from salad.adapter import SpeechLM, load_speech_encoder, tokenize_spans, collate_interleaved
from salad.audio import load_audio
from salad.cli import data_dir
from salad.config import get_config
from salad.data import load_data, build_data
from salad.cache import FeatureCache, TeacherCache
from salad.losses import salad_loss
from salad.stages import prepare_examples
from salad.train import _optimizer

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='cpu'); p.add_argument('--steps', type=int, default=5); p.add_argument('--data', default=None)
    p.add_argument('--topk', type=int, default=32)
    a = p.parse_args()
    cfg = get_config(a.preset); bs = cfg.train.batch_size
    data = a.data or data_dir(cfg.name)
    if a.data is None and not (data/'stage1').exists(): build_data(cfg, data, progress=False)
    rows = load_data(data, 'stage1').to_list()[:bs * a.steps]
    enc = load_speech_encoder(cfg.model.encoder, cfg.model.encoder_mode)
    llm, tok = load_llm(cfg.model.llm)
    model = SpeechLM(cfg.model, llm, enc.dim, enc.key); opt = _optimizer(model, cfg.train)
    cache = FeatureCache(salad_home()/'features', enc)
    examples = prepare_examples(rows, tok, cache, progress=False)
    tcache = TeacherCache(tempfile.mkdtemp(), cfg.model.llm, a.topk)
    def step(batch_rows, batch_examples, encode, teacher_cache=None):
        if encode:  # the no-cache path: run the encoder on every speech span
            batch_examples = [[dict(sp, feats=enc.encode(load_audio(au))) if sp['kind'] == 'speech' else sp
                               for sp, au in zip(ex[len(ex) - len(r['span_kinds']):], r['span_audio'])] for ex, r in zip(batch_examples, batch_rows)]
        b = collate_interleaved(batch_examples, cfg.model.stack)
        teacher = teacher_cache(model, b) if teacher_cache else model.teacher_logits(b)
        out = salad_loss(model(b), teacher, b, cfg.train.alpha)
        out['loss'].backward(); opt.step(); opt.zero_grad()
        return int(b['attention_mask'].sum())
    print(f"preset {cfg.name}: {cfg.model.llm} + {enc.key}, adapter {cfg.model.adapter} (stack {cfg.model.stack}), batch {bs}, LLM {cfg.model.llm_training}")
    print(f"adapter params {sum(p.numel() for p in model.adapter.parameters())/1e6:.2f}M; {torch.get_num_threads()} threads")
    step(rows[:bs], examples[:bs], False)  # warm-up
    for s in range(a.steps): tcache(model, collate_interleaved(examples[s*bs:(s+1)*bs], cfg.model.stack))  # fill
    for name, encode, tc in (('with feature cache', False, None), ('without feature cache', True, None),
                             (f'features + teacher top-{a.topk} cache', False, tcache)):
        t0, toks = time.time(), 0
        for s in range(a.steps): toks += step(rows[s*bs:(s+1)*bs], examples[s*bs:(s+1)*bs], encode, tc)
        dt = time.time() - t0
        print(f"{name:24s}: {dt/a.steps:.2f} s/step, {toks/dt:.0f} tokens/s")

if __name__ == '__main__': main()
