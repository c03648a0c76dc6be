#!/usr/bin/env bash
# What the GPU bench carries to the device machine, in .gpu/ (git-ignored, ~35 MB):
#   .gpu/whl   wheels its image lacks or has too old (Python 3.12, manylinux x86-64), installed there with --no-deps
#   .gpu/work  the bench's tokenizer and pool text (`bench/gpu_stage1.py prepare`: from salad's offline assets)
# Then, through the device tool (carry: [".gpu"], timeout_s 600; the command is in nbs/pages/paper_scale.md):
#   bash bench/gpu_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="transformers==5.25.0 huggingface_hub==2.4.0 kernels==0.19.1 regex==2026.11.19 tomlkit==0.15.3
  httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 idna==3.20 click==8.5.1 hf-xet==1.8.0
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
  soxr==1.1.0 jiwer==4.0.0 rapidfuzz==3.14.6 fastcore==1.14.5 accelerate==1.16.0 peft==0.21.2"
mkdir -p .gpu/whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .gpu/whl $WHEELS
.venv/bin/python bench/gpu_stage1.py prepare .gpu/work
du -sh .gpu/whl .gpu/work
