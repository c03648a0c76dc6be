"""Balanced k-means at paper scale: N random d-dimensional vectors (default 1,000,000 × 384) into K = 128
clusters, the way `salad.stage2.stage2` runs it: embeddings in an on-disk array (memory-mapped), centroids fit
on a sample, assignment in chunks. Prints the time of each phase, the cluster sizes and the peak memory.

    python bench/selection_scale.py                 # 1,000,000 × 384 -> 128 clusters
    python bench/selection_scale.py --n 100000      # a quicker look
"""
import argparse, resource, tempfile, time
from pathlib import Path
import numpy as np
from salad.selection import balanced_assign, cluster_means, fit_centroids


def peak_mib() -> float:
    "Peak resident memory of this process so far (MiB; Linux reports KiB), memory-mapped file pages included."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss() -> str:
    "Resident memory now: anonymous (the process's own) and file-backed (memory-mapped pages the OS can drop)."
    f = dict(l.split(':') for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('Rss'))
    return ', '.join(f"{k} {int(f[k].split()[0]) / 1024:,.0f} MiB" for k in ('RssAnon', 'RssFile') if k in f)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=1_000_000)
    p.add_argument('--dim', type=int, default=384)
    p.add_argument('--k', type=int, default=128)
    p.add_argument('--sample', type=int, default=100_000, help='rows the centroids are fit on')
    p.add_argument('--iters', type=int, default=25)
    p.add_argument('--refine', type=int, default=2, help='balanced Lloyd rounds')
    p.add_argument('--chunk', type=int, default=65536)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / 'x.npy'
        t = time.time()
        x = np.lib.format.open_memmap(path, 'w+', np.float32, (a.n, a.dim))
        rng = np.random.default_rng(0)
        for s in range(0, a.n, a.chunk):  # written in chunks: the array never has to fit in memory
            x[s : s + a.chunk] = rng.standard_normal((min(a.chunk, a.n - s), a.dim), dtype=np.float32)
        x.flush()
        del x
        x = np.load(path, mmap_mode='r')
        print(f'data: {a.n:,} × {a.dim} float32 on disk ({path.stat().st_size / 2**30:.2f} GiB), {time.time() - t:.1f} s')
        base = peak_mib()
        t0 = time.time()
        c = fit_centroids(x, a.k, a.sample, a.iters, seed=0)
        t1 = time.time()
        print(f'fit: {a.k} centroids on {min(a.n, a.sample):,} sampled rows (faiss, {a.iters} iterations): {t1 - t0:.1f} s')
        labels = balanced_assign(x, c, chunk=a.chunk)
        t2 = time.time()
        print(f'balanced assignment: {t2 - t1:.1f} s ({rss()})')
        for r in range(a.refine):
            c = cluster_means(x, labels, a.k, a.chunk)
            labels = balanced_assign(x, c, chunk=a.chunk)
        t3 = time.time()
        print(f'{a.refine} balanced Lloyd rounds: {t3 - t2:.1f} s ({rss()})')
        sizes = np.bincount(labels, minlength=a.k)
        print(f'cluster sizes: min {sizes.min():,}, max {sizes.max():,} (N/K = {a.n / a.k:,.1f})')
        print(f'total clustering time: {t3 - t0:.1f} s; peak memory {peak_mib():,.0f} MiB '
              f'({peak_mib() - base:,.0f} MiB above the {base:,.0f} MiB before clustering)')


if __name__ == '__main__':
    main()
