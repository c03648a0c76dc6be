"""Do two `salad run` folders hold the same results? Weights byte for byte, metrics and reports with timings aside.

Usage: python bench/compare_runs.py runs/quick-before runs/quick-after

For a change that must not change behaviour (a refactor): run the same preset before and after it into two run
folders (the same `SALAD_HOME` may serve both: every cache is keyed by content) and compare. Prints one line per
file and `ALL EQUAL` or `DIFFERENT`; exits 1 when they differ.
"""
import json, sys
from pathlib import Path

TIMES = ('seconds', 'tokens_per_s', 'feature_seconds', 'seconds_taken', 'timing', 'finished', 'started')


def strip(o):
    "`o` without wall times and cache hit counts (they differ between a cold and a warm cache)."
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in TIMES and not k.endswith(('_hits', '_misses'))}
    return [strip(v) for v in o] if isinstance(o, list) else o


def same_json(a: Path, b: Path, drop=()) -> bool:
    x, y = strip(json.loads(a.read_text())), strip(json.loads(b.read_text()))
    for k in drop:
        x.pop(k, None), y.pop(k, None)
    return x == y


def main(a: Path, b: Path) -> bool:
    ok = True
    for st in ('stage1', 'stage2-active', 'stage2-uniform', 'stage2-control'):
        w = (a / st / 'final' / 'trainable.safetensors').read_bytes() == (b / st / 'final' / 'trainable.safetensors').read_bytes()
        m = same_json(a / st / 'metrics.json', b / st / 'metrics.json')
        print(f'{st}: final/trainable.safetensors byte-identical {w}; metrics.json equal {m}')
        ok &= w and m
    for d in sorted(p for p in (a / 'eval').iterdir() if (p / 'report.json').exists()):
        e = b / 'eval' / d.name.replace(a.name, b.name)  # model folders are named after their run
        scores = [f for f in sorted((d / 'scores').glob('*.jsonl'))]
        same = sum(f.read_bytes() == (e / 'scores' / f.name).read_bytes() for f in scores)
        r = same_json(d / 'report.json', e / 'report.json', drop=('target',))
        print(f'eval/{d.name}: report.json equal {r} (the target path aside); {same} of {len(scores)} score files identical')
        ok &= r and same == len(scores)
    m = same_json(a / 'metrics.json', b / 'metrics.json')
    print(f'metrics.json of the run equal {m}')
    ok &= m
    print('ALL EQUAL' if ok else 'DIFFERENT')
    return ok


if __name__ == '__main__':
    sys.exit(0 if main(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
