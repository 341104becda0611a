# Heard: `make run` to try it, `make test` to test it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails and the printed sign-in link point at the server `make run` starts.
export HEARD_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint format install install-test demo clean bench

$(BIN)/heard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: $(BIN)/heard
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/heard

install-test: $(VENV)/.test-installed

run: $(BIN)/heard
	@mkdir -p var
	$(BIN)/heard db upgrade
	$(BIN)/heard demo
	@echo ""
	@echo "Heard is starting at http://$(HOST):$(PORT)"
	@echo "Emails are written to var/mail/ and listed at http://$(HOST):$(PORT)/dev/mail"
	@$(BIN)/heard create-staff admin@heard.example.org --role admin --name "Demo admin" | tail -1 | sed 's/^/Staff sign-in link (one use): /'
	@echo ""
	@# The worker (queued email, scheduled jobs) runs beside the server and stops with it:
	@# Ctrl-C stops the server, then the trap stops the worker (it finishes the email it is on).
	@$(BIN)/heard worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/heard serve --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed
	$(BIN)/python tests/setup_browser.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

format: $(VENV)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.test-installed
	$(BIN)/python bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
