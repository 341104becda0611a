# Heard: `make run` to try it, `make test` to test it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails and the printed sign-in link point at the server `make run` starts.
export HEARD_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint format install install-test demo clean bench lock

# Exact versions from the lock files (pip-compile; `make lock` makes them again), then Heard
# itself on top without touching them.
$(BIN)/heard: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.test-installed: $(BIN)/heard requirements-test.lock
	$(BIN)/pip install --quiet -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps -e '.[test]'
	@touch $@

# After changing dependencies in pyproject.toml: pin them again (keeps existing pins).
lock: $(VENV)/.test-installed
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --extra test --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements-test.lock pyproject.toml

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
