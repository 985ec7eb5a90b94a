# Everything a newcomer needs: `make demo` and `make test` create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gtool saml lint samples/ ; true

test: $(STAMP)
	$(BIN)/ruff check gtool tests bench
	$(BIN)/ruff format --check gtool tests bench
	$(BIN)/mypy gtool
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/gtool saml rules --format markdown > docs/rules.md

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
