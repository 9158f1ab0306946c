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

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

# Locales translated by people; sr_Cyrl is generated from sr_Latn.
TRANSLATED_LOCALES := sq sr_Latn mk bs ru az fa

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F config/babel.cfg -k _l -k lazy_gettext -k _lp:1c,2 -k lazy_pgettext:1c,2 --no-wrap --sort-by-file \
	  --project MSC --copyright-holder "MSC contributors" -o translations/messages.pot .
	@for locale in $(TRANSLATED_LOCALES); do \
	  if [ -f translations/$$locale/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update --no-wrap --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations -l $$locale; \
	  else \
	    $(BIN)/pybabel init --no-wrap -i translations/messages.pot -d translations -l $$locale; \
	  fi; done
	mkdir -p translations/sr_Cyrl/LC_MESSAGES
	$(BIN)/python -m msc.core.cyrillic translations/sr_Latn/LC_MESSAGES/messages.po \
	  translations/sr_Cyrl/LC_MESSAGES/messages.po
	$(MAKE) compile-translations

compile-translations: $(VENV)/.installed
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel compile -d translations >/dev/null; fi

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
	$(BIN)/bandit -q -r msc -ll
	bash .ci/pip-audit

migrations-check: $(VENV)/.installed-test
	bash .ci/check-migrations

# `make bench`: gunicorn + locust against SQLite and PostgreSQL (bench/load_bench.py, which also
# runs bench/research_bench.py); BENCH_DATABASES=sqlite or postgresql runs one of them.
BENCH_PROFILES ?= 100000
BENCH_DATABASES ?= sqlite postgresql
BENCH_ARGS ?=
bench: $(VENV)/.installed-bench compile-translations
	@for database in $(BENCH_DATABASES); do \
	  if [ $$database = postgresql ]; then \
	    url=$${MSC_BENCH_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}; \
	    $(BIN)/python bench/load_bench.py --profiles $(BENCH_PROFILES) --database-url $$url $(BENCH_ARGS) || exit 1; \
	  else \
	    $(BIN)/python bench/load_bench.py --profiles $(BENCH_PROFILES) $(BENCH_ARGS) || exit 1; \
	  fi; done

clean:
	rm -rf $(VENV) instance .pytest_cache
