"""Evaluation: the two scenarios, metrics, one scoring path, the comparison of methods, the paper's studies and the
benchmark. It computes; the book (:mod:`gaingtex.book`) presents. (Import the submodules; this package imports
nothing.)"""
