# Two commands on a fresh machine with Python 3.11+:
#   make demo   create .venv, install, run the main job end to end, print what happened
#   make test   create .venv if needed, install, run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench proto clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chatsnapshot needs Python 3.11+; set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@$(PY) -m compileall -q chatsnapshot ledger proto receiver exporter instrumentation
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) demo/main.py

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/ledger.py
	$(PY) bench/ingest.py

proto: $(STAMP)
	$(PY) -m chatsnapshot.proto.generate

clean:
	rm -rf $(VENV) demo-ledger chatsnapshot-ledger build *.egg-info
