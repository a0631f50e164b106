# Kalem — the README's two commands are `make run` and `make test`; each installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test browser lint fmt bench migration clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# bpmn-js (pinned in webui/package-lock.json) served locally from webui/static/vendor/, never from a CDN.
VENDOR := webui/static/vendor/.installed
$(VENDOR): webui/package.json webui/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm bulunamadı: süreç diyagramları gösterilmeyecek"; exit 0; }; \
	cd webui && npm ci --no-audit --no-fund --loglevel=error \
	&& rm -rf static/vendor && mkdir -p static/vendor/bpmn-js \
	&& cp node_modules/bpmn-js/dist/*.production.min.js static/vendor/bpmn-js/ \
	&& cp -R node_modules/bpmn-js/dist/assets static/vendor/bpmn-js/assets \
	&& touch static/vendor/.installed

run: $(STAMP) $(VENDOR)  ## Create the database, load demo data, serve on http://127.0.0.1:5000
	$(BIN)/kalem init-db
	$(BIN)/kalem seed-demo --with-cases
	$(BIN)/kalem serve --host 127.0.0.1 --port 5000 --with-scheduler

browser:  ## Debian's chromium for the browser tests (they skip, saying why, where it cannot be installed)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium kurulamadı: tarayıcı testleri atlanacak"

test: $(STAMP) $(VENDOR) browser  ## Lint and run every test (PostgreSQL ones too when KALEM_TEST_POSTGRES_URL is set)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)  ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## Engine benchmark (prints medians and p95)
	$(BIN)/python bench/engine_bench.py

migration: $(STAMP)  ## New alembic migration from the models: make migration m="what changed"
	$(BIN)/python -c "from alembic import command; from engine.migrate import alembic_config; \
	command.revision(alembic_config('sqlite:///instance/migration-check.sqlite3'), message='$(m)', autogenerate=True)"

clean:  ## Remove the virtualenv and local data
	rm -rf $(VENV) instance .pytest_cache
