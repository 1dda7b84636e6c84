"""``gaingtex train``: train a deep model (PMI, GAIN-GTEx, GAIN-MSE) and save it as .keras."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from ..config import SCENARIOS
from .shared import add_common, cohort_of


def add_parser(sub) -> None:
    from ..imputers import names

    p = sub.add_parser("train", help="train PMI, GAIN-GTEx or GAIN-MSE and save it as .keras")
    add_common(p)
    p.add_argument("--model", choices=names(trains=True), required=True)
    p.add_argument("--scenario", choices=SCENARIOS, default="inductive")
    p.add_argument("--out", type=Path, required=True, help="output .keras file")
    p.add_argument("--verbose", action="store_true", help="one line per epoch")
    p.add_argument("--fresh", action="store_true", help="delete the checkpoint an interrupted run left "
                   "(<out>.checkpoint.npz) and train from the start")
    p.set_defaults(func=run)


def run(args) -> None:
    from ..evaluation.scenarios import train_model
    from ..imputers import label

    check_output(args.out, ".keras", [args.cohort])
    adata, genes = cohort_of(args)
    rate = 0.5 if args.missing_rate is None else args.missing_rate
    checkpoint = args.out.with_name(args.out.name + ".checkpoint.npz")  # resumed by a rerun after an interrupt
    if args.fresh:
        checkpoint.unlink(missing_ok=True)
    args.on_interrupt = lambda: _kept(checkpoint)
    imputer = train_model(adata, args.model, args.scenario, args.preset, seed=args.seed or 0, missing_rate=rate,
                          genes=genes, verbose=2 if args.verbose else 0, progress=True, checkpoint=checkpoint,
                          cohort=str(args.cohort or f"preset:{args.preset}"), gene_set=args.genes)
    if imputer.resumed_from_:
        print(f"resumed from {checkpoint} after epoch {imputer.resumed_from_}")
    write_or_rescue(imputer.save, args.out)
    c = imputer.config
    chosen = f", chosen on validation: {imputer.chosen_['search']}" if imputer.chosen_.get("search") else ""
    print(f"trained {label(imputer.name)} ({args.scenario}, {c.hidden_layers} × {c.hidden_units}, learning rate "
          f"{c.learning_rate:.2g}, dropout {c.dropout:g}{chosen}) in {imputer.fit_seconds_:.1f}s, "
          f"{len(imputer.history_)} epochs (best {imputer.best_epoch_}); wrote {args.out}")


def epochs_in(checkpoint: Path) -> int | None:
    """The epochs done that a checkpoint records, or ``None`` when there is none (or it is unreadable: the next
    run says why). Read with numpy alone, so that an interrupt before the deep-learning library is loaded does
    not wait for it."""
    import json

    import numpy as np

    try:
        with np.load(checkpoint) as data:
            return int(json.loads(bytes(data["meta"]).decode())["epochs"])
    except Exception:  # noqa: BLE001 — only a note for an interrupted run
        return None


def _kept(checkpoint: Path) -> str:
    """What an interrupted training leaves, and how to go on."""
    epochs = epochs_in(checkpoint)
    if epochs is None:
        return (f"no checkpoint was written yet (one is kept every few epochs, as {checkpoint}); rerun the same "
                "command to start again")
    return (f"the training state after epoch {epochs} is kept in {checkpoint}; rerun the same command to resume "
            "from it (or add --fresh to start over)")
