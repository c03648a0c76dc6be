"""Word-level interleaving: how well `salad.words` cuts speech at word boundaries, and how fast.

Usage: python bench/word_align.py [--aligner whisper-base] [--asr whisper-base] [--voices flite:kal flite:slt flite:rms]

1. Known boundaries: sentences whose words were synthesized one at a time and joined with pauses of known
   length (`salad.words.joined_words`). A cut between two words is right when it falls in the pause between
   them; printed: the share of cuts outside their pause and how far outside (ms).
2. The natural recordings (asterisk prompts and pocketsphinx clips, `salad.data.natural_speech`, ~25 min; the
   clips of 1-30 s that are speech, not beeps described in brackets): every utterance aligned (seconds and real-time factor on this machine), cut into the passages of
   `data.interleave='words'`, each speech span read back by the ASR: CER per span against the span's words,
   beside the ASR's CER on the whole utterances (what the ASR gets wrong without any cut).
Word boundaries, cuts and transcripts are cached in $SALAD_HOME: a second run times nothing new (use a fresh
SALAD_HOME, or `--fresh` to time the alignment uncached).
"""

import argparse, tempfile, time
import numpy as np
from salad.assets import load_asr, salad_home
from salad.audio import load_audio
from salad.cache import DiskCache, transcribe_cached
from salad.data import natural_speech
from salad.metrics import char_error_rate
from salad.words import WordAligner, cut_errors, joined_words, snap_to_quiet, word_boundaries, word_passages

SENTENCES = [
    'the quick brown fox jumps over the lazy dog near our quiet river bank',
    'she sold all of her old books to a small shop at the end of the street',
    'after the long winter the farmers waited for the first warm days of spring',
    'please remember to close every window before you leave the house tonight',
]


def known_boundaries(aligner: str, voices: list, snap: float):
    asr, raw, snapped = load_asr(aligner), [], []
    for v in voices:
        for i, s in enumerate(SENTENCES):
            wav, spans = joined_words(s.split(), v, seed=i)
            b = word_boundaries(*asr, wav, s)
            raw.append(cut_errors(b, spans))
            snapped.append(cut_errors(snap_to_quiet(wav, b, snap), spans))
    print(f'known boundaries ({len(voices)} voices x {len(SENTENCES)} sentences, {sum(map(len, raw))} cuts between '
          f'words, {aligner}):')
    for name, errs in [('alignment heads', raw), (f'snapped to quiet (+-{snap} s)', snapped)]:
        e = np.concatenate(errs) * 1000
        print(f'  {name}: cuts outside their pause {(e > 0).mean():.1%}; miss median {np.median(e):.0f} ms, '
              f'mean {e.mean():.0f} ms, 95th percentile {np.percentile(e, 95):.0f} ms, max {e.max():.0f} ms')


def spoken(r) -> bool:
    "A recording of speech Whisper can align at once: 1-30 s, its text not a description of a tone."
    return 1 <= r['seconds'] <= 30 and not any(w in r['text'] for w in ('[', 'beep', ' tone'))


def natural(aligner: str, asr: str, snap: float, fresh: bool):
    nat = natural_speech().filter(spoken)
    minutes = sum(nat['seconds']) / 60
    align = WordAligner(aligner, snap=snap)
    if fresh:  # an empty word cache: the alignment is timed, not read
        align.cache = DiskCache(tempfile.mkdtemp(), aligner, '.json')
    t0 = time.time()
    bounds = align(nat['audio'], nat['text'])
    secs = time.time() - t0
    print(f'natural recordings: {len(nat)} utterances, {minutes:.1f} min; aligned (snap {snap}) in {secs:.0f} s '
          f'(real-time factor {secs / 60 / minutes:.3f}, {minutes * 60 / secs:.0f}x real time)')
    rows = word_passages(nat, bounds, salad_home() / 'spans')
    spans = [(t, a) for r in rows for k, t, a in zip(r['span_kinds'], r['span_texts'], r['span_audio']) if k == 'speech']
    words = np.array([len(t.split()) for t, _ in spans])
    heard = transcribe_cached([a for _, a in spans], asr)
    cer = np.array([char_error_rate(t, h) for (t, _), h in zip(spans, heard)])
    whole = transcribe_cached(list(nat['audio']), asr)
    base = np.array([char_error_rate(t, h) for t, h in zip(nat['text'], whole)])
    print(f'  {len(rows)} passages, {len(spans)} speech spans of {words.min()}-{words.max()} words '
          f'(median {np.median(words):.0f}; {(words < 5).mean():.0%} under 5: utterances shorter than a span)')
    print(f'  CER per speech span: median {np.median(cer):.3f}, mean {cer.mean():.3f}, '
          f'pooled {char_error_rate([t for t, _ in spans], heard):.3f}; '
          f'spans >= 5 words: mean {cer[words >= 5].mean():.3f}')
    print(f'  the ASR on the whole utterances: CER median {np.median(base):.3f}, mean {base.mean():.3f}, '
          f'pooled {char_error_rate(list(nat["text"]), whole):.3f}')


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--aligner', default='whisper-base')
    p.add_argument('--asr', default='whisper-base')
    p.add_argument('--voices', nargs='+', default=['flite:kal', 'flite:slt', 'flite:rms'])
    p.add_argument('--snap', type=float, nargs='+', default=[0.25, 0.0], help='snap windows to compare (0: none)')
    p.add_argument('--fresh', action='store_true', help='align into an empty word cache (times the alignment)')
    a = p.parse_args()
    known_boundaries(a.aligner, a.voices, a.snap[0])
    for snap in a.snap:
        natural(a.aligner, a.asr, snap, a.fresh)
