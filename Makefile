# Two commands are all a newcomer needs: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench wheel lock laptop-kit clean

PORT ?= 8080

$(STAMP): pyproject.toml requirements/server.lock
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtual environment. On Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/server.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet -e '.[server,test,terminal,documents]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m intake.demo --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check crypto intake triage tests bench deploy
	$(BIN)/mypy crypto intake triage
	$(BIN)/bandit --quiet --severity-level high --confidence-level medium -r crypto intake triage

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

wheel: $(STAMP)
	$(BIN)/pip wheel --no-deps -w dist .

# The offline laptop's install, built on a connected machine (docs/OPERATIONS.md, section 2). Both the
# laptop's Python (python3 --version there) and its platform are chosen explicitly: wheels fit only one.
# LAPTOP_DESK=1 adds the desk (`triage desk`, Flask).
laptop-kit: $(STAMP)
	@test -n "$(KIT)" -a -n "$(LAPTOP_PYTHON)" -a -n "$(LAPTOP_PLATFORM)" || { echo "Usage: make laptop-kit \
	KIT=/media/usb/laptop-kit LAPTOP_PYTHON=3.13 LAPTOP_PLATFORM=manylinux2014_x86_64 (Tails 7, Debian 13: 3.13; \
	Tails 6, Debian 12: 3.11)"; exit 2; }
	$(BIN)/python deploy/laptop_kit.py --out "$(KIT)" --python-version $(LAPTOP_PYTHON) --platform $(LAPTOP_PLATFORM) \
		$(if $(LAPTOP_DESK),--with-desk)

lock: $(STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --extra server --no-emit-index-url --no-emit-find-links \
		--strip-extras -o requirements/server.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --extra terminal --extra documents --no-emit-index-url --no-emit-find-links \
		--strip-extras -o requirements/laptop.lock pyproject.toml

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
