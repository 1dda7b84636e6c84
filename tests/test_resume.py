"""Interrupted training resumes from its checkpoint and ends with the same weights, bit for bit, as an
uninterrupted run (smoke preset)."""

import pytest

from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import get
from gaingtex.imputers.deep import checkpoint as ckpt


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("model, scenario", [("pmi", "inductive"), ("gain", "inplace")])
def test_resumed_training_ends_bit_for_bit(smoke, tmp_path, monkeypatch, model, scenario):
    data = scenario_data(smoke, scenario, 0.5, 0)
    whole = get(model, scenario=scenario, preset="smoke", seed=3).fit(**data.fit_args())
    path = tmp_path / "run.checkpoint.npz"
    real = ckpt.Checkpointer.on_epoch_end

    def stop_after_five(self, epoch, logs=None):
        real(self, epoch, logs)
        if epoch + 1 == 5:
            raise Interrupt  # as Ctrl-C or SIGTERM would, between two checkpoints (the last at epoch 4)

    monkeypatch.setattr(ckpt.Checkpointer, "on_epoch_end", stop_after_five)
    with pytest.raises(Interrupt):
        get(model, scenario=scenario, preset="smoke", seed=3).fit(**data.fit_args(), checkpoint=path,
                                                                  checkpoint_every=2)
    assert path.is_file()
    monkeypatch.setattr(ckpt.Checkpointer, "on_epoch_end", real)
    resumed = get(model, scenario=scenario, preset="smoke", seed=3).fit(**data.fit_args(), checkpoint=path,
                                                                        checkpoint_every=2)
    assert resumed.hashes()["weights"] == whole.hashes()["weights"]
    assert len(resumed.history_) == len(whole.history_) and resumed.best_epoch_ == whole.best_epoch_
    assert list(resumed.history_["val_loss"]) == pytest.approx(list(whole.history_["val_loss"]), abs=0)
    assert not path.exists()  # removed once training ended


def test_a_checkpoint_of_other_inputs_is_refused(smoke, tmp_path, monkeypatch):
    data = scenario_data(smoke, "inductive", 0.5, 0)
    path = tmp_path / "run.checkpoint.npz"

    def stop(self, epoch, logs=None):
        self.history.append(dict(logs or {}))  # a checkpoint's history has one entry per epoch done
        ckpt.write(self.path, ckpt.snapshot(self.model, epoch + 1, self.history, self.stop.state()), self.key)
        raise Interrupt

    monkeypatch.setattr(ckpt.Checkpointer, "on_epoch_end", stop)
    with pytest.raises(Interrupt):
        get("pmi", scenario="inductive", preset="smoke", seed=3).fit(**data.fit_args(), checkpoint=path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="checkpoint of a run with other inputs"):
        get("pmi", scenario="inductive", preset="smoke", seed=4).fit(**data.fit_args(), checkpoint=path)
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="the training checkpoint is damaged"):
        get("pmi", scenario="inductive", preset="smoke", seed=3).fit(**data.fit_args(), checkpoint=path)


def test_gaingtex_train_resumes_after_an_interrupt(tmp_path, monkeypatch, capsys):
    from gaingtex.cli import main

    out = tmp_path / "pmi.keras"
    real = ckpt.Checkpointer.on_epoch_end

    def stop_after_five(self, epoch, logs=None):
        real(self, epoch, logs)
        if epoch + 1 == 5:
            raise Interrupt

    monkeypatch.setattr(ckpt.Checkpointer, "on_epoch_end", stop_after_five)
    with pytest.raises(Interrupt):
        main(["train", "--preset", "smoke", "--model", "pmi", "--out", str(out)])
    assert (tmp_path / "pmi.keras.checkpoint.npz").is_file() and not out.exists()
    monkeypatch.setattr(ckpt.Checkpointer, "on_epoch_end", real)
    assert main(["train", "--preset", "smoke", "--model", "pmi", "--out", str(out)]) == 0
    assert "pmi.keras.checkpoint.npz after epoch 5" in capsys.readouterr().out
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["pmi.keras"]
