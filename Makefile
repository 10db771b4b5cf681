# Two entry points (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install install-dev demo test bench

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -c "from radiodash.run import warm_compiled_code as w; print(f'compiled the log scanner and the event-file decoder in {w():.1f} s (cached for the first page)')"
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	bash scripts/install-chromium.sh && bash scripts/install-sshd.sh
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

demo: install
	$(VENV)/bin/streamlit run app.py

test: install-dev
	$(PY) -m pytest

bench: install-dev
	$(PY) benchmarks/run_all.py
