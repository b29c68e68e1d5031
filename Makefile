# Two commands on a fresh machine with Python 3.11+:
#   make demo   create .venv, install, run the main job end to end, print what happened
#               (each run adds a run to ./demo-ledger; make demo DEMO_ARGS=--fresh starts it over)
#   make test   create .venv if needed, install, run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# AG2 0.x (module autogen) and 1.x (module ag2) are both the PyPI distribution `ag2`: the main
# environment has 1.x, a second one has 0.14.x and runs the AG2 0.x tests.
ERA0   ?= .venv-ag2-0
STAMP0 := $(ERA0)/.installed
# The run page test drives a real headless browser: Debian's Chromium (installed here when missing).
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The JS interop tests run the OpenTelemetry JS SDK with Node: the packages pinned by tests/js/package-lock.json.
JS     := tests/js/node_modules/.installed
# The Collector tests run a real OpenTelemetry Collector built from its Go modules (cached by the
# hash of tests/collector/otelcol; without Go the tests skip, except with CI=true).

.PHONY: demo test lint typecheck bench proto clean js collector

# The role folders that pyproject's package-dir maps into the chatsnapshot package.
ROLES     := proto ledger receiver exporter instrumentation ui
TYPECHECK := build/typecheck

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chatsnapshot needs Python 3.11+; set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ag2,interop]'
	@$(PY) -m compileall -q chatsnapshot $(ROLES)
	@touch $(STAMP)

$(STAMP0): pyproject.toml
	@test -x $(ERA0)/bin/python || $(PYTHON) -m venv $(ERA0)
	$(ERA0)/bin/python -m pip install --quiet --upgrade pip
	$(ERA0)/bin/python -m pip install --quiet -e '.[test,autogen]'
	@touch $(STAMP0)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make test needs Chromium for the run page test: install it and set CHROMIUM=/path/to/chromium"; exit 1; }
	@echo "installing Debian's chromium (the run page's browser test)"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

$(JS): tests/js/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: the JS SDK interop tests are skipped (install Node.js 18+ to run them)"; exit 0; }
	npm ci --prefix tests/js --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(JS)

js: $(JS)

collector:
	@tests/collector/build.sh >/dev/null

demo: $(STAMP)
	$(PY) demo/main.py $(DEMO_ARGS)

test: lint $(STAMP0) $(CHROMIUM) $(JS) collector
	CHATSNAPSHOT_CHROMIUM=$(CHROMIUM) CHATSNAPSHOT_REQUIRE_BROWSER=1 $(PY) -m pytest -q
	$(ERA0)/bin/python -m pytest -q tests/instrumentation/test_autogen.py tests/instrumentation/test_autogen_chats.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	@$(MAKE) --no-print-directory typecheck

# mypy sees the package as installed: a tree of symlinks to the role folders; paths are printed as in the repo.
typecheck: $(STAMP)
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/chatsnapshot
	@for f in chatsnapshot/*; do case $$f in */__pycache__) ;; *) ln -s ../../../$$f $(TYPECHECK)/chatsnapshot/ ;; esac; done
	@for d in $(ROLES); do ln -s ../../../$$d $(TYPECHECK)/chatsnapshot/$$d; done
	@cd $(TYPECHECK) && $(abspath $(VENV))/bin/mypy --config-file $(CURDIR)/pyproject.toml --python-executable $(abspath $(PY)) \
	  -p chatsnapshot > mypy.out; status=$$?; \
	  sed -E 's#^chatsnapshot/(proto|ledger|receiver|exporter|instrumentation)/#\1/#' mypy.out; exit $$status

bench: $(STAMP) $(STAMP0)
	$(PY) bench/ledger.py
	$(PY) bench/ingest.py
	$(PY) bench/ag2.py
	$(ERA0)/bin/python bench/ag2.py
	$(PY) bench/projections.py
	$(PY) bench/checkpoints.py
	$(PY) bench/scaleout.py

proto: $(STAMP)
	$(PY) -m chatsnapshot.proto.generate

clean:
	rm -rf $(VENV) $(ERA0) demo-ledger demo-run.html chatsnapshot-ledger build *.egg-info tests/js/node_modules
