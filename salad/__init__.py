__version__ = "0.1.0"

import os as _os

# `salad run` sets SALAD_PROGRESS=text for its notebook kernels: progress bars as text, streamed to the terminal,
# redrawn at most every SALAD_PROGRESS_EVERY seconds (default 20) so a log of a long run stays readable
if _os.environ.get('SALAD_PROGRESS') == 'text':
    import tqdm.auto as _auto, tqdm.std as _std

    class _TextBar(_std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault('mininterval', float(_os.environ.get('SALAD_PROGRESS_EVERY', 20)))
            super().__init__(*args, **kwargs)

    _auto.tqdm, _auto.trange = _TextBar, lambda *args, **kwargs: _TextBar(range(*args), **kwargs)
