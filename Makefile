# Two commands are all a newcomer needs: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench wheel clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtual environment. On Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server,test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m intake.demo

lint: $(STAMP)
	$(BIN)/ruff check crypto intake triage tests bench
	$(BIN)/mypy crypto intake triage

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

wheel: $(STAMP)
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
