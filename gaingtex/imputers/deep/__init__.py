"""The paper's deep imputers — PMI, GAIN-GTEx, GAIN-MSE — kept apart as layers, losses, models and the trainer.

They are registered here without importing TensorFlow; :mod:`.trainer` (and TensorFlow) loads on first use.
"""

from __future__ import annotations

from ..registry import register


def _factory(model: str):
    def build(scenario: str = "inductive", preset: str = "book", config=None, seed: int = 0, progress: bool = False,
              **options):
        from ...config import search_config
        from .trainer import DeepImputer

        # the preset's configuration, sized to the data and searched on validation; a given config is used as it is
        search = options.pop("search", search_config(preset) if config is None else None)
        return DeepImputer(model, scenario, config, seed=seed, progress=progress, preset=preset, search=search,
                           **options)

    build.__name__ = f"build_{model.replace('-', '_')}"
    return build


for _name, _label, _colour in (("pmi", "PMI", "#1b9e77"), ("gain", "GAIN-GTEx", "#d95f02"),
                               ("gain-mse", "GAIN-MSE", "#7570b3")):
    register(_name, _label, _factory(_name), stochastic=True, saveable=True, trains=True, colour=_colour)
