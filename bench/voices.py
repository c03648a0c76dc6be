"""Per-voice quality and speed: CER of Whisper-base transcripts on data/voice_check.txt, and RTF.

Usage: python bench/voices.py [--voices piper:joe flite:slt ...] [--cache DIR] [--asr whisper-base]
Prints a markdown table (the README's voice table comes from here). RTF = synthesis seconds per
second of audio for one worker process (lower is faster); clips are synthesized fresh (a new cache).
"""
import argparse, tempfile, time
from pathlib import Path
from salad.assets import load_whisper
from salad.synthesis import list_voices, synthesize_batch, voice_cer, normalize_for_speech

ROOT = Path(__file__).resolve().parents[1]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--voices', nargs='*', default=None); p.add_argument('--asr', default='whisper-base')
    p.add_argument('--cache', default=None, help='audio cache (default: a fresh temporary folder, so RTF is measured)')
    a = p.parse_args()
    texts = [normalize_for_speech(l) for l in (ROOT/'data'/'voice_check.txt').read_text().splitlines() if l.strip()]
    cache = Path(a.cache or tempfile.mkdtemp(prefix='salad-voices-'))
    model, proc = load_whisper(a.asr)
    print(f'{len(texts)} sentences, ASR {a.asr}, cache {cache}\n')
    print('| voice | CER | RTF (1 worker) | audio s |'); print('|---|---|---|---|')
    for v in a.voices or list_voices():
        rep = synthesize_batch(texts, v, cache, workers=1, progress=False)
        cer = voice_cer(rep.paths, texts, model, proc)
        print(f'| `{v}` | {cer:.3f} | {rep.rtf:.2f} | {rep.audio_seconds:.1f} |', flush=True)

if __name__ == '__main__': main()
