"""How much of the comparison of methods (notebook 08, ``gaingtex benchmark``) each named preset affords: seeds,
budgets and gene sets."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import PRESETS, check_choice


@dataclass(frozen=True)
class ComparisonConfig:
    """How much of the comparison of methods (notebook 08, ``gaingtex benchmark``) a preset affords.

    Attributes
    ----------
    seeds
        Seeds per method (each redraws the masks and the method's own seed).
    deep_seeds
        Of those, how many the deep models are trained for (the first is the run's own model).
    budget
        Seconds a method may take to fit or to impute before it is reported as "> budget".
    scaling_budget
        Seconds per method and size in the scaling study.
    gene_sets
        Which of all genes, the Alzheimer genes and the 59-gene panel are compared.
    """

    seeds: int
    deep_seeds: int
    budget: float
    scaling_budget: float
    gene_sets: tuple[str, ...] = ("all", "alzheimer", "panel")


# `book` compares at the run's seed only, with the run's own deep models: each further seed repeats the other
# methods' whole cost, and their spread over seeds is far smaller than the gaps between methods (`make bench`
# measures it, and `gaingtex benchmark` trains the deep models for every seed). It leaves out the Alzheimer set, a
# large share of the comparison's time: notebook 06 scores PMI against the references on those genes, and
# `gaingtex benchmark --gene-sets alzheimer` compares every method on them. `smoke` (the tests' book) keeps every
# stage, with two seeds, budgets of seconds (so that its slow methods meet them) and no Alzheimer set (273 of its
# 300 genes: all genes again). `book`'s scaling study stops a method at 15 s per size, which keeps the study a small
# part of the build. `teach` (classroom laptops) is `book`'s design with a 60 s budget and 10 s per scaling size, so
# that its whole book builds in a class's time (before, its comparison alone took longer).
# `book`'s budget is 200 s: a method is stopped once its rate projects it past 1.25 times the budget, and at 120 s
# two methods that finish near that limit were shown or stopped according to how fast a shared machine ran that
# hour. At 200 s they finish at half the speed, and the methods far beyond it stay stopped. The numbers:
# benchmarks/README.md, "The comparison's budgets".
COMPARISON_PRESETS: dict[str, ComparisonConfig] = {
    "smoke": ComparisonConfig(seeds=2, deep_seeds=1, budget=5.0, scaling_budget=2.0, gene_sets=("all", "panel")),
    "teach": ComparisonConfig(seeds=1, deep_seeds=1, budget=60.0, scaling_budget=10.0, gene_sets=("all", "panel")),
    "book": ComparisonConfig(seeds=1, deep_seeds=1, budget=200.0, scaling_budget=15.0,
                             gene_sets=("all", "panel")),
    "paper": ComparisonConfig(seeds=3, deep_seeds=1, budget=1800.0, scaling_budget=300.0),
}


def comparison_config(preset: str) -> ComparisonConfig:
    """The comparison's configuration of a named preset."""
    return COMPARISON_PRESETS[check_choice(preset, PRESETS, "preset")]
