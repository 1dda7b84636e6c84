"""Evaluation: masks and their random streams, the two scenarios, metrics, one scoring path, the paper's studies
and the benchmark. (Import the submodules; this package imports nothing, so that the imputers may use its masks.)"""
