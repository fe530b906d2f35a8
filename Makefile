# Two commands: `make run` starts the demo app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test lint bench chromium clean migrations

# Every install goes through constraints.txt: indirect dependencies get the tested versions.
$(RUNTIME_STAMP): requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt constraints.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

run: $(RUNTIME_STAMP)
	$(VENV)/bin/streamlit run app.py

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser test..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(DEV_STAMP) chromium lint
	$(PY) -m pytest

# After any change to store/models.py: regenerate the store's upgrade revision (Alembic autogenerate).
migrations: $(DEV_STAMP)
	$(PY) -m store.migrations.autogen

bench: $(DEV_STAMP)
	$(PY) -m bench push --rows 20000
	$(PY) -m bench push --rows 20000 --baseline naive
	$(PY) -m bench resync --rows 20000 --changed 0.01

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
