__version__ = "0.1.0"

import os as _os

if _os.environ.get('SALAD_PROGRESS') == 'text':  # `salad run`'s kernels: progress bars as text, streamed to the terminal
    import tqdm.auto as _auto, tqdm.std as _std

    _auto.tqdm, _auto.trange = _std.tqdm, _std.trange
