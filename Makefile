# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install check browser messages screenshots clean

demo: install  ## build the Suzhou demo (SQLite under ./var) and serve it at http://127.0.0.1:8000
	$(BIN)/shanzhi demo $(DEMO_ARGS)

#: test processes (pytest-xdist): one per core, at most 4; `make test TEST_WORKERS=0` runs one
TEST_WORKERS ?= auto

test: install check  ## lint, then the whole test suite (browser tests skip without Chromium)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses=4 --durations=20

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

check: install  ## ruff, import layers, missing migrations
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	SHANZHI_DATA_DIR=$${SHANZHI_DATA_DIR:-$(CURDIR)/var} $(BIN)/shanzhi makemigrations --check --dry-run >/dev/null

browser:  ## install Debian's Chromium and the CJK fonts for the browser tests (needs root)
	scripts/install-browser.sh

messages: install  ## refresh and compile the Chinese translations
	cd src/shanzhi && ../../$(BIN)/django-admin makemessages -l zh_Hans --settings=shanzhi.settings -i "*/migrations/*"
	cd src/shanzhi && ../../$(BIN)/django-admin compilemessages --settings=shanzhi.settings

clean:
	rm -rf $(VENV) var

screenshots: install  ## refresh docs/screenshots/ from the browser tests
	SHANZHI_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q
