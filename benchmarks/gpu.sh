#!/usr/bin/env bash
# The paper preset on a GPU machine, with Keras' JAX backend.
#
# The GPU machines we can borrow have no network. Their Python 3.12 holds JAX with CUDA, pandas, scikit-learn,
# h5py, numba and the rest of the scientific stack, but no TensorFlow, Keras or AnnData. The deep models train on
# JAX as they do on TensorFlow (gaingtex/imputers/deep/backend.py), so carrying a few wheels is enough. Three steps:
#
#   bash benchmarks/gpu.sh wheels            # here, with the package registries: .whl/ (about 5 MB, ignored by git)
#   bash benchmarks/gpu.sh check OUT         # there: install the wheels, say what the machine has  (≈ 1 min)
#   bash benchmarks/gpu.sh bench OUT         # there: `gaingtex benchmark --preset paper` on the 15,201 × 12,557
#                                            #        cohort, one mask seed, deep models once, written to
#                                            #        OUT/paper-comparison-gpu.json
#
# `bench` reads three variables: LIMIT (seconds before it stops, default 540, inside the device's 10-minute
# limit), RESUME (a partial JSON an earlier call returned, carried back in: finished rows are kept) and METHODS
# (registry names, default every method). The benchmark writes OUT/paper-comparison-gpu.partial.json as each row
# finishes, so a call stopped by LIMIT returns what it finished; carry that file into the next call as RESUME.
# The device tool carries .whl/ (name it in `carry`) and returns what lands in $OUT; pass OUT="$OUT". Every step
# writes JSON beside a log, so a step stopped by the device's 10-minute limit still returns what it measured.
# Versions come from requirements-lock.txt, so the GPU runs the code the CPU runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the GPU image lacks (its package list: the device tool's KINDS.md), with what those need in turn.
CARRIED="keras namex optree anndata array-api-compat legacy-api-wrap natsort scverse-misc session-info2 zarr donfig
numcodecs google-crc32c pynndescent scoringrules"

pinned() {  # the lock file's version of one package
    local v
    v=$(grep -i "^$1==" requirements-lock.txt | head -1 | cut -d= -f3)
    [ -n "$v" ] || { echo "gpu.sh: $1 is not in requirements-lock.txt" >&2; return 1; }
    echo "$1==$v"
}

install() {  # the carried wheels into /tmp/site, on the GPU machine
    [ -d .whl ] || { echo "gpu.sh: no .whl/ here: run 'bash benchmarks/gpu.sh wheels' first and carry .whl" >&2; exit 2; }
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
}

cohort() {  # the paper preset's embedded cohort (15,201 × 12,557), generated there in seconds
    [ -f /tmp/paper.h5ad ] || python3 -m gaingtex cohort --preset paper --out /tmp/paper.h5ad
}

step=${1:-}
out=${2:-}
case "$step" in
wheels)
    rm -rf .whl && mkdir .whl
    specs=$(for p in $CARRIED; do pinned "$p" || true; done)
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl $specs
    du -sh .whl
    ;;
check)
    [ -n "$out" ] || { echo "usage: gpu.sh check OUT" >&2; exit 2; }
    install
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
      python3 -c "import jax, keras, anndata; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__, keras.backend.backend()); print('anndata', anndata.__version__)"
      python3 -m gaingtex train --help >/dev/null && echo "gaingtex imports without TensorFlow"
    } 2>&1 | tee "$out/check.log"
    ;;
bench)
    [ -n "$out" ] || { echo "usage: gpu.sh bench OUT [seconds]" >&2; exit 2; }
    install
    cohort
    extra=()
    [ -n "${RESUME:-}" ] && extra+=(--resume "$RESUME")
    # shellcheck disable=SC2206
    [ -n "${METHODS:-}" ] && extra+=(--methods $METHODS)
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/device.txt" || true
    # SIGINT, as Ctrl-C: the benchmark keeps its finished rows in the partial JSON and says so
    timeout -s INT "${LIMIT:-540}" python3 -m gaingtex benchmark --preset paper --cohort /tmp/paper.h5ad \
        --seeds 0 --deep-seeds 1 --gene-sets all --out "$out/paper-comparison-gpu.json" "${extra[@]}" 2>&1 \
        | tee "$out/bench.log" || true
    ;;
*)
    echo "usage: bash benchmarks/gpu.sh {wheels|check OUT|bench OUT}" >&2
    exit 2
    ;;
esac
