# gaingtex — `make install`, `make test`, `make book`, `make bench`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make install GPU=1` installs TensorFlow with CUDA instead of tensorflow-cpu.
EXTRAS := $(if $(GPU),gpu,cpu),dev
PRESET ?= book
SEED   ?= 0

.PHONY: install test book bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements-lock.txt tools/fetch_mathjax.py
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "gaingtex needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[$(EXTRAS)]"
	$(BIN)/python tools/fetch_mathjax.py $(VENV)/share/mathjax   # from the npm registry: math renders offline
	touch $(STAMP)

# Two workers (pytest-xdist): each smoke book is built once, in the worker that runs every test reading it.
TEST_JOBS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadgroup

# Execute every notebook with papermill (preset PRESET, default book) and build the book into _build/html.
# `make book COHORT=cohort.h5ad EXTERNAL="tcga-brca.h5ad tcga-luad.h5ad"` runs it on your own cohort instead;
# BUDGET=SECONDS gives each method of the comparison more (or less) time than the preset does.
book: install
	$(BIN)/gaingtex book --preset $(PRESET) --seed $(SEED) $(if $(COHORT),--cohort $(COHORT)) \
		$(if $(EXTERNAL),--external $(EXTERNAL)) $(if $(BUDGET),--budget $(BUDGET))

# The comparison of every method over three seeds (deep models at the first, as the book does); resumes an
# interrupted run from its partial results when they are there.
BENCH_OUT := benchmarks/results/$(PRESET)-comparison.json
bench: install
	$(BIN)/gaingtex benchmark --preset $(PRESET) --seed $(SEED) --deep-seeds 1 --gene-sets all panel \
		--out $(BENCH_OUT) $(if $(wildcard $(BENCH_OUT:.json=.partial.json)),--resume $(BENCH_OUT:.json=.partial.json))

clean:
	rm -rf $(VENV) _build runs .pytest_cache
