"""Benchmark items per second for the text, speech and cascade readings (and the naive text scorer).

Usage: python bench/eval_speed.py [--preset cpu] [--task arc_easy] [--items 40] [--batch 8]
The preset's LLM, encoder and ASR on real benchmark items spoken in the preset's evaluation voice
(synthesis is cached and not timed). "cold" runs the frozen encoder / the ASR on every clip;
"cached" reads features / transcripts computed before, as reruns and later checkpoints do.
"""
import argparse, time
import torch
from salad.assets import load_llm, load_whisper, salad_home
from salad.adapter import SpeechLM, load_speech_encoder
from salad.audio import load_audio, transcribe
from salad.config import get_config
from salad.data import load_benchmark, speak_benchmark
from salad.evaluate import text_item, text_embeds, score_options, naive_scores, speech_spans, speech_embeds

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='cpu'); p.add_argument('--task', default='arc_easy')
    p.add_argument('--items', type=int, default=40); p.add_argument('--batch', type=int, default=None)
    a = p.parse_args()
    cfg = get_config(a.preset); bs = a.batch or cfg.eval.batch_size
    rows = speak_benchmark(load_benchmark(a.task, n=a.items, seed=0, max_spoken_chars=cfg.data.max_spoken_chars),
                           cfg.data.eval_voice, salad_home()/'audio', progress=False).to_list()
    llm, tok = load_llm(cfg.model.llm); llm.eval()
    enc = load_speech_encoder(cfg.model.encoder, cfg.model.encoder_mode)
    torch.manual_seed(0); model = SpeechLM(cfg.model, llm, enc.dim, enc.key).eval()
    asr, proc = load_whisper(cfg.eval.asr)
    n = len(rows)
    print(f"preset {cfg.name}: {cfg.model.llm}, encoder {enc.key}, ASR {cfg.eval.asr}; task {a.task}, {n} items "
          f"({sum(len(r['options']) for r in rows)} options), batch {bs}, voice {cfg.data.eval_voice}; {torch.get_num_threads()} threads")
    def timed(name, fn):
        t0 = time.time(); fn(); dt = time.time() - t0
        print(f"{name:34s}: {n/dt:7.2f} items/s ({dt:.1f} s)")
    items = [text_item(tok, r) for r in rows]
    score_options(llm, [text_embeds(llm, t['ctx']) for t in items[:2]], [t['options'] for t in items[:2]], bs)  # warm-up
    timed('text, batched + shared context', lambda: score_options(llm, [text_embeds(llm, t['ctx']) for t in items], [t['options'] for t in items], bs))
    timed('text, naive (one pass per option)', lambda: [naive_scores(llm, t['ctx'], t['options']) for t in items])
    feats = {}
    def speech(cold):
        if cold: feats.update({r['id']: enc.encode(load_audio(r['audio'])).float() for r in rows})
        ctxs = [speech_embeds(model, speech_spans(tok, r, feats[r['id']])) for r in rows]
        score_options(llm, ctxs, [t['options'] for t in items], bs)
    timed('speech, cold (encoder runs)', lambda: speech(True))
    timed('speech, cached features', lambda: speech(False))
    hyps = []
    def cascade(cold):
        if cold: hyps[:] = transcribe(asr, proc, [load_audio(r['audio']) for r in rows])
        ti = [text_item(tok, r, spoken=h) for r, h in zip(rows, hyps)]
        score_options(llm, [text_embeds(llm, t['ctx']) for t in ti], [t['options'] for t in ti], bs)
    timed('cascade, cold (ASR runs)', lambda: cascade(True))
    timed('cascade, cached transcripts', lambda: cascade(False))

if __name__ == '__main__': main()
