# MSC: `make run` serves the demo on http://127.0.0.1:5000; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint translations compile-translations migrations-check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

compile-translations: $(VENV)/.installed
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel compile -q -d translations; fi

run: export MSC_ENV = development
run: $(VENV)/.installed compile-translations
	$(FLASK) db upgrade
	$(FLASK) msc demo-data --if-empty
	$(FLASK) msc demo-logins
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test compile-translations
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

migrations-check: $(VENV)/.installed-test
	bash .ci/check-migrations

BENCH_PROFILES ?= 100000
bench: $(VENV)/.installed-test
	$(BIN)/python bench/cases_bench.py --profiles $(BENCH_PROFILES)
	$(BIN)/python bench/cases_bench.py --profiles $(BENCH_PROFILES) \
	  --database-url $${MSC_BENCH_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

clean:
	rm -rf $(VENV) instance .pytest_cache
