# Everything a newcomer needs: `make demo` and `make test` create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo tour test lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The terminal app on a local sandbox Grafana seeded with samples/sandbox-seed.toml (Okta SAML config, so
# synced users are locked as in a real Grafana). The sandbox stops when you quit with q.
demo: $(STAMP)
	$(BIN)/gtool demo

# The SAML toolkit without a terminal app: lint, effective config and explain on the samples.
tour: $(STAMP)
	@echo "== A clean Okta-style configuration:  gtool saml lint samples/okta/grafana.ini"
	@$(BIN)/gtool saml lint samples/okta/grafana.ini --grafana-version 12.3
	@echo
	@echo "== Configurations as they break in the field:  gtool saml lint samples/broken/"
	@$(BIN)/gtool saml lint samples/broken/ --grafana-version 12.3 || true
	@echo
	@echo "== What Grafana would really use:  gtool saml config samples/okta/grafana.ini"
	@$(BIN)/gtool saml config samples/okta/grafana.ini | head -40
	@echo
	@echo
	@echo "== What would Grafana grant this user at login, and why?"
	@$(BIN)/gtool saml explain --config samples/okta/grafana.ini --assertion samples/assertions/okta-login.har --grafana-version 12.3 | head -11
	@echo
	@echo "Next: gtool saml rules (every rule), gtool sandbox --seed samples/sandbox-seed.toml --config samples/okta/grafana.ini"
	@echo "      (a local Grafana to practise on), gtool --help"

test: $(STAMP)
	$(BIN)/ruff check gtool tests bench
	$(BIN)/ruff format --check gtool tests bench
	$(BIN)/mypy gtool
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/gtool saml rules --format markdown > docs/rules.md
	$(BIN)/python -c "from gtool.tui.keymap import markdown; print(markdown())" > docs/tui-keys.md

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
