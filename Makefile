# LLU Book. Three commands on a fresh machine:
#   make book   set up, fetch the offline data, build the offline model, execute every chapter, build the HTML book
#   make lab    set up, fetch the offline data, open working copies of the chapters in JupyterLab on 127.0.0.1
#   make test   set up, fetch the offline data and run the test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One embedding cache for the tests and the book build (see llu_core/utils/locations.py).
export LLU_CACHE_DIR ?= $(CURDIR)/.cache
export MPLBACKEND ?= Agg

.PHONY: setup data book lab test benchmark reproduce clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml scripts/install-system-deps.sh
	scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# The offline data (llu_core/data/offline/): verified where it is (file sizes always, hashes once),
# fetched from its pinned sources (or $LLU_DATA_MIRROR) where it is missing.
data: setup
	$(BIN)/python -m llu_core fetch-data

# Progress bars are for interactive runs; the built pages leave them out. One build at a time:
# jupyter-cache's records and Sphinx's _build/ are not safe against two builds writing at once, so a
# build started beside another (or beside the tests' build, which takes the same lock) waits for it.
BUILD_LOCK := _build/.build.lock
book: setup data
	mkdir -p _build
	TQDM_DISABLE=1 flock $(BUILD_LOCK) $(BIN)/jupyter-book build . --warningiserror --keep-going

# The chapters live: copies in lab/notebooks/ (made once, then the reader's), JupyterLab on 127.0.0.1;
# pass options with ARGS, e.g. make lab ARGS="--port 8890 -- --no-browser"
lab: setup data
	$(BIN)/python -m llu_core.report.lab $(ARGS)

# The tests in one process per CPU (pytest-xdist), torch on one thread in each: the book build that
# tests/book/test_book.py starts (first) executes its chapters two at a time in one of them, while
# the others run the rest, so both cores stay busy and none is oversubscribed.
JOBS ?= $(shell nproc)
test: setup data
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

benchmark: setup
	$(BIN)/python benchmarks/bench_grids.py --reproduce
	$(BIN)/python benchmarks/bench_method.py
	$(BIN)/python benchmarks/bench_extraction.py
	$(BIN)/python benchmarks/bench_training_speed.py --batch-sizes 1 4 16 32 --threads 1
	$(BIN)/python benchmarks/bench_successors.py

# Rerun chapters 7, 8 and 10 (Tables 1-4) through papermill over a grid; pass options with ARGS, e.g.
#   make reproduce ARGS="--chapters base_to_new --backbone ViT-B-16 --pretrained /models/ViT-B-16.pt --data-root /data --datasets dtd"
reproduce: setup
	$(BIN)/python -m llu_core.report.reproduce $(ARGS)

clean:
	rm -rf _build results
