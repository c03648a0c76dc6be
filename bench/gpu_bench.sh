#!/usr/bin/env bash
# On the GPU machine, in the repository's root with .gpu/ carried (bench/gpu_carry.sh made it): install the carried
# wheels beside the image's torch, then every measurement of bench/gpu_stage1.py, written to $OUT as it goes.
set -uo pipefail
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 SALAD_HOME=/tmp/gw/home
mkdir -p /tmp/gw && cp -r .gpu/work/. /tmp/gw/
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 bench/features.py --encoders mimi --clips 256 --batch-seconds 1200 2>&1 | tee "$OUT/features.txt"
python3 bench/gpu_stage1.py run /tmp/gw "$OUT" --resume "$@" 2>&1 | tee "$OUT/gpu_stage1.log"
