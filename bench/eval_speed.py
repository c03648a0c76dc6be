"""Items/s of the packed context-sharing scorer against a plain batched scorer, on the same items, in one run.

Usage: python bench/eval_speed.py [--preset cpu] [--items 200] [--tasks arc_easy piqa hellaswag]
                                  [--speech-items 100] [--plain-batch 8 32]

The plain scorer is what the common harnesses do: every context + option is its own sequence, sorted by
length, batched (`--plain-batch` sequences a pass; every size listed is run and the fastest is the
baseline), full logits. Ours (`salad.evaluate.score_options`) packs an item's context and all its options
into one row (`eval.batch_size` items a pass). Both score the same contexts; the script prints items/s of
each, their ratio, the largest |difference| of any option's summed log-prob, and whether acc / acc_norm
agree on every item. "text" reads the benchmark text with the preset's LLM; "speech" reads the spoken part
through the frozen encoder (features cached first, not timed) and the seeded untrained adapter, the path
every speech evaluation takes. The headline is ARC-Easy + PIQA together (total items / total seconds).
"""
import argparse, time
import torch
from salad.adapter import SpeechLM, load_speech_encoder
from salad.assets import load_llm, salad_home
from salad.cache import FeatureCache
from salad.config import get_config
from salad.data import load_benchmark, speak_benchmark
from salad.evaluate import mc_metrics, plain_scores, score_options, speech_embeds, speech_spans, text_embeds, text_item


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def compare(llm, ctxs, opts, rows, bs, plain_bs):
    "Time ours and every plain batch size on the same contexts; the fastest plain run is the baseline."
    score_options(llm, ctxs[:2], opts[:2], bs), plain_scores(llm, ctxs[:2], opts[:2], plain_bs[0])  # warm-up
    ours, t_ours = timed(lambda: score_options(llm, ctxs, opts, bs))
    plain = {b: timed(lambda b=b: plain_scores(llm, ctxs, opts, b)) for b in plain_bs}
    best = min(plain, key=lambda b: plain[b][1])
    ref, t_plain = plain[best]
    diff = max(abs(a - b) for x, y in zip(ours, ref) for a, b in zip(x, y))
    same = all(
        mc_metrics(x, r['options'], r['gold']) == mc_metrics(y, r['options'], r['gold'])
        for x, y, r in zip(ours, ref, rows)
    )
    return dict(n=len(rows), t_ours=t_ours, t_plain=t_plain, plain_bs=best, diff=diff, same=same,
                sweep={b: round(len(rows) / t, 2) for b, (_, t) in plain.items()})


def show(name, r):
    print(f"{name:22s} {r['n']:5d} {r['n'] / r['t_plain']:10.2f} {r['n'] / r['t_ours']:10.2f} "
          f"{r['t_plain'] / r['t_ours']:6.2f}x {r['diff']:11.1e}   {'yes' if r['same'] else 'NO':4s}"
          f"  plain batch {r['plain_bs']} (sweep items/s {r['sweep']})", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='cpu')
    p.add_argument('--items', type=int, default=200)
    p.add_argument('--tasks', nargs='+', default=['arc_easy', 'piqa', 'hellaswag'])
    p.add_argument('--speech-items', type=int, default=100, help='per task, ARC-Easy and PIQA; 0 skips speech')
    p.add_argument('--plain-batch', type=int, nargs='+', default=[8, 32])
    a = p.parse_args()
    cfg = get_config(a.preset)
    bs, voice = cfg.eval.batch_size, cfg.data.eval_voice
    llm, tok = load_llm(cfg.model.llm)
    print(f"preset {cfg.name}: {cfg.model.llm}; ours {bs} items/pass; {torch.get_num_threads()} threads")
    print(f"{'reading':22s} {'items':>5s} {'plain it/s':>10s} {'ours it/s':>10s} {'ratio':>7s} "
          f"{'max |dlogp|':>11s}   acc/acc_norm identical")
    res, rows_of = {}, {}
    for task in a.tasks:
        rows = load_benchmark(task, n=a.items, seed=0, max_spoken_chars=cfg.data.max_spoken_chars).to_list()
        items = [text_item(tok, r, cfg.eval.max_tokens) for r in rows]
        ctxs, opts = [text_embeds(llm, t['ctx']) for t in items], [t['options'] for t in items]
        res[f'text {task}'] = compare(llm, ctxs, opts, rows, bs, a.plain_batch)
        show(f'text {task}', res[f'text {task}'])
        rows_of[task] = rows
    if a.speech_items:
        enc = load_speech_encoder(cfg.model.encoder, cfg.model.encoder_mode)
        torch.manual_seed(cfg.eval.seed)
        model = SpeechLM(cfg.model, llm, enc.dim, enc.key).eval()
        feats = FeatureCache(salad_home() / 'features', enc)
        for task in ('arc_easy', 'piqa'):
            rows = speak_benchmark(load_benchmark(task, n=a.speech_items, seed=0, max_spoken_chars=cfg.data.max_spoken_chars),
                                   voice, salad_home() / 'audio', progress=False).to_list()
            items = [text_item(tok, r, cfg.eval.max_tokens) for r in rows]
            ctxs = [speech_embeds(model, speech_spans(tok, r, feats(r['audio']), t['fewshot'])) for r, t in zip(rows, items)]
            res[f'speech {task}'] = compare(model.llm, ctxs, [t['options'] for t in items], rows, bs, a.plain_batch)
            show(f'speech {task}', res[f'speech {task}'])
    for kind in ('text', 'speech'):
        parts = [res[k] for k in (f'{kind} arc_easy', f'{kind} piqa') if k in res]
        if len(parts) == 2:
            n, tp, to = sum(r['n'] for r in parts), sum(r['t_plain'] for r in parts), sum(r['t_ours'] for r in parts)
            print(f"{kind} ARC-Easy + PIQA: plain {n / tp:.2f} items/s, ours {n / to:.2f} items/s, ratio {tp / to:.2f}x")


if __name__ == '__main__':
    main()
