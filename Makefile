# gaingtex — `make install`, `make test`, `make bench`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make install GPU=1` installs TensorFlow with CUDA instead of tensorflow-cpu.
EXTRAS := $(if $(GPU),gpu,cpu),dev
PRESET ?= book
SEED   ?= 0

.PHONY: install test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements-lock.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "gaingtex needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/gaingtex benchmark --preset $(PRESET) --seed $(SEED) --out benchmarks/results/$(PRESET).json

clean:
	rm -rf $(VENV) _build runs .pytest_cache
