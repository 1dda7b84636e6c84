"""Scripts that measure the package, each a module with ``main(argv)``: run them from the repository root as
``python -m benchmarks.<name> --out benchmarks/results/<name>.json``. Their records are in ``results/`` and
``README.md`` says what each one shows."""
