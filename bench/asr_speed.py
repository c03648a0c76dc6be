"""Clips/s and WER of the cascade's ASR: transformers Whisper (the old path) against CTranslate2 int8, same clips.

Usage: python bench/asr_speed.py [--preset cpu] [--clips 64] [--batch 8] [--task arc_easy]

The clips are the first `--clips` spoken questions of `--task` in the preset's evaluation voice (synthesis is
cached and not timed). Both backends decode greedily from the same log-mel features, every chunk padded to
Whisper's 30 s window. Prints clips/s, corpus WER (`salad.metrics.word_error_rate`), the ratio, and per
backend the worst clips and the longest hypothesis relative to its reference (a hallucinated repetition
would show there).
"""
import argparse, time
import torch
from salad.assets import load_asr, salad_home
from salad.audio import load_audio, transcribe
from salad.config import get_config
from salad.data import load_benchmark, speak_benchmark
from salad.metrics import word_error_rate


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='cpu')
    p.add_argument('--clips', type=int, default=64)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--task', default='arc_easy')
    a = p.parse_args()
    cfg = get_config(a.preset)
    rows = speak_benchmark(load_benchmark(a.task, n=a.clips, seed=0, max_spoken_chars=cfg.data.max_spoken_chars),
                           cfg.data.eval_voice, salad_home() / 'audio', progress=False).to_list()
    wavs, refs = [load_audio(r['audio']) for r in rows], [r['spoken_text'] for r in rows]
    print(f"{len(wavs)} clips of {a.task} in {cfg.data.eval_voice}, {sum(map(len, wavs)) / 16000:.0f} s of audio; "
          f"ASR {cfg.eval.asr}, batch {a.batch}, {torch.get_num_threads()} threads")
    speed = {}
    for backend in ('hf', 'ct2'):
        model, proc = load_asr(cfg.eval.asr, backend)
        transcribe(model, proc, wavs[:2], batch_size=2)  # warm-up
        t0 = time.perf_counter()
        hyps = transcribe(model, proc, wavs, batch_size=a.batch)
        dt = time.perf_counter() - t0
        speed[backend] = len(wavs) / dt
        per = sorted(((word_error_rate(r, h), r, h) for r, h in zip(refs, hyps)), key=lambda x: -x[0])
        longest = max(len(h.split()) / max(1, len(r.split())) for r, h in zip(refs, hyps))
        print(f"{backend:4s}: {speed[backend]:.2f} clips/s ({dt:.1f} s), WER {100 * word_error_rate(refs, hyps):.2f}%, "
              f"longest hypothesis {longest:.2f}x its reference's words")
        for w, r, h in per[:3]:
            print(f"      WER {100 * w:5.1f}%  ref: {r!r}\n                  hyp: {h!r}")
    print(f"CTranslate2 int8 / transformers: {speed['ct2'] / speed['hf']:.2f}x")


if __name__ == '__main__':
    main()
