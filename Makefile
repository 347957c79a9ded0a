# kdkit: two commands. `make reports` runs every study; `make test` runs unit, notebook and
# browser tests. Each bootstraps .venv when missing: torch (CPU wheel) first, then kdkit[dev],
# then recbole without dependencies, only as the offline source of MovieLens-100k.
# `make bench` measures kdkit against peer libraries in a separate .venv-bench.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kdkit-installed
BENCH  := .venv-bench
# Small models train many times faster on one thread than on two on a 2-core machine.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

.PHONY: reports test lab venv browser bench clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps recbole==1.2.1
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Debian's chromium for the browser test of the report site (Playwright drives it; its own
# browser download does not work offline). Without root or apt, the test says it is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    >/dev/null 2>&1 || echo "make: chromium could not be installed; the browser test will be skipped"; }

reports: $(STAMP)
	$(BIN)/kdkit run --all --until-decided --replace -p cache=true

test: $(STAMP) browser
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	$(BIN)/jupyter lab --notebook-dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/

# Peer libraries (cornac, dtaidistance) live in their own environment: never kdkit dependencies.
$(BENCH)/.installed: pyproject.toml
	test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet torch==2.13.0
	$(BENCH)/bin/python -m pip install --quiet -e . cornac==3.0.1 dtaidistance==2.5.1
	$(BENCH)/bin/python -m pip install --quiet --no-deps recbole==1.2.1
	touch $@

bench: $(BENCH)/.installed
	$(BENCH)/bin/python bench/bpr.py
	$(BENCH)/bin/python bench/evaluation.py
	$(BENCH)/bin/python bench/kd_overhead.py
	$(BENCH)/bin/python bench/procrustes_dtw.py
	$(BENCH)/bin/python bench/threads.py

clean-venv:
	rm -rf $(VENV) $(BENCH)
