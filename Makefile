# The two commands: `make up` and `make test`. Both create .venv and install into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install bench reliability clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/farm up

test: $(STAMP)
	$(BIN)/farm with-services -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# The reliability suite's long version (tests/reliability, docs/reliability.md); make test runs its short one.
reliability: $(STAMP)
	FARM_RELIABILITY=long $(BIN)/farm with-services -- $(BIN)/python -m pytest tests/reliability -p no:randomly -s $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/farm with-services -- $(BIN)/python bench/provisioning.py
	$(BIN)/farm with-services -- $(BIN)/python bench/super_cron.py
	$(BIN)/farm with-services -- $(BIN)/python bench/site_cron.py
	$(BIN)/farm with-services -- $(BIN)/python bench/tracking.py
	$(BIN)/farm with-services -- $(BIN)/python bench/agents.py
	$(BIN)/farm with-services -- $(BIN)/python bench/reports.py

clean:
	rm -rf $(VENV) .state
