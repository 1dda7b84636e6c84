"""The paper's deep imputers — PMI, GAIN-GTEx, GAIN-MSE — split as scvi-tools splits its own: the networks and
their ``train_step`` (:mod:`.models`, built from :mod:`.layers` and :mod:`.losses`), the training run
(:mod:`.training`, with :mod:`.checkpoint`), the validation search (:mod:`.search`) and the user-facing imputer
(:mod:`.imputer`); what differs per Keras backend is in :mod:`.backend`.

They are registered here without importing Keras; :mod:`.imputer` (and the backend) loads on first use.
"""

from __future__ import annotations

from ..registry import register


def _factory(model: str):
    def build(scenario: str = "inductive", preset: str = "book", config=None, seed: int = 0, progress: bool = False,
              **options):
        from ...config import search_config
        from .imputer import DeepImputer

        # the preset's configuration, sized to the data and searched on validation; a given config is used as it is
        search = options.pop("search", search_config(preset) if config is None else None)
        return DeepImputer(model, scenario, config, seed=seed, progress=progress, preset=preset, search=search,
                           **options)

    build.__name__ = f"build_{model.replace('-', '_')}"
    return build


def _load_model(path):
    from .imputer import DeepImputer

    return DeepImputer.load(path)


# The paper's best: PMI inductive, GAIN-GTEx in place. GAIN-GTEx and GAIN-MSE (its ablation) share a generator.
for _name, _label, _colour, _family, _best in (("pmi", "PMI", "#1b9e77", "pmi", ("inductive",)),
                                               ("gain", "GAIN-GTEx", "#d95f02", "gain", ("inplace",)),
                                               ("gain-mse", "GAIN-MSE", "#7570b3", "gain", ())):
    register(_name, _label, _factory(_name), stochastic=True, saveable=True, trains=True, colour=_colour,
             role="paper", family=_family, paper_best=_best, load=_load_model)


def __getattr__(name: str):
    if name == "DeepImputer":  # imported on first use: Keras and its backend load only then
        from .imputer import DeepImputer

        return DeepImputer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
