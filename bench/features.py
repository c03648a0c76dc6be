"""Speech-encoder feature speed: clips/s and real-time factor, one clip at a time against batched.

Usage: python bench/features.py [--encoders whisper-base mimi] [--clips 48] [--batch-seconds 240] [--device cpu]

Whisper-base is the offline asset (real weights); Mimi is Kyutai's architecture at its default size with
random weights (no Mimi weights install offline; the speed is the architecture's). The clips are noise of
LibriSpeech-like lengths (4-16 s, seeded): content does not change an encoder's cost. Each encoder first
encodes every clip alone (`SpeechEncoder.encode`), then the same clips through `encode_batch` in batches of
about `--batch-seconds` of audio, shortest first (what `FeatureCache.fill` does before training), checks that
each batched feature equals the clip's own, and prints seconds, clips/s and x real time for both.
On a GPU (`--device cuda`, the default when there is one) the timings synchronise the device.
"""

import argparse, time
import numpy as np
import torch
from transformers import MimiConfig, MimiModel
from salad.adapter import SpeechEncoder, load_speech_encoder
from salad.cache import _batches


def encoder(name: str, device: str) -> SpeechEncoder:
    if name == 'mimi':
        torch.manual_seed(0)
        return SpeechEncoder(MimiModel(MimiConfig()), 'mimi', 'mimi-random-init').to(device)
    return load_speech_encoder(name).to(device)


def timed(fn, device: str) -> float:
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--encoders', nargs='+', default=['whisper-base', 'mimi'])
    p.add_argument('--clips', type=int, default=48)
    p.add_argument('--batch-seconds', type=float, default=240.0)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    wavs = [(0.05 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in rng.uniform(4, 16, a.clips)]
    audio_s = sum(len(w) for w in wavs) / 16000
    print(f"{a.clips} clips, {audio_s:.0f} s of audio, device {a.device}, torch threads {torch.get_num_threads()}")
    for name in a.encoders:
        enc = encoder(name, a.device)
        enc.encode(wavs[0]), enc.encode_batch(wavs[:2])  # warm-up
        single_s, single = timed(lambda enc=enc: [enc.encode(w) for w in wavs], a.device)
        order = sorted(range(len(wavs)), key=lambda i: len(wavs[i]))
        batches = list(_batches([(len(wavs[i]) / 16000, i) for i in order], a.batch_seconds))
        batch_s, feats = timed(
            lambda: [f for b in batches for f in enc.encode_batch([wavs[i] for _, i in b])], a.device
        )
        err = max((f - single[i]).abs().max().item() for f, i in zip(feats, order))
        scale = max(f.abs().max().item() for f in single)
        for label, s in (('one by one', single_s), (f'batched ({len(batches)} batches)', batch_s)):
            print(f"{name:>13} {label:<22} {s:7.1f} s  {a.clips / s:7.1f} clips/s  {audio_s / s:8.1f}x real time")
        print(f"{name:>13} largest |batched - alone| {err:.1e}, {err / scale:.1e} of the largest |feature| {scale:.1f}")


if __name__ == '__main__':
    main()
