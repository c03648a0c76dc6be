__version__ = "0.1.0"

import os as _os

# `salad run` sets SALAD_PROGRESS=text for its notebook kernels: progress bars as text, streamed to the terminal
if _os.environ.get('SALAD_PROGRESS') == 'text':
    import tqdm.auto as _auto, tqdm.std as _std

    _auto.tqdm, _auto.trange = _std.tqdm, _std.trange
