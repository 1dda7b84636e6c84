"""Run as a script by test_distribute.py: a short GAIN-MSE fit on one CPU device, mirrored on two logical CPU
devices, and mirrored without the replica scaling of the loss (the control). Prints the per-epoch losses as JSON.
(Logical devices must be set before TensorFlow starts, so this cannot run inside the test process.)"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from gaingtex.config import model_config  # noqa: E402
from gaingtex.data.embedded import make_cohort  # noqa: E402
from gaingtex.evaluation.scenarios import scenario_data  # noqa: E402
from gaingtex.imputers import get  # noqa: E402
from gaingtex.imputers.deep import _backend_tf  # noqa: E402


def losses_under(strategy):
    # Complete training data in the in-place setting: no mask to draw and no noise reaches the network, so a
    # replica sees exactly its half of each global batch; no dropout and no batch normalisation (whose statistics
    # are per replica), so the one-device and two-device fits compute the same thing.
    data = scenario_data(make_cohort("smoke", 0), "inductive", 0.5, seed=0)
    config = model_config("smoke", "gain-mse", "inplace").replace(
        max_epochs=3, steps_per_epoch=10, batch_size=32, batchnorm=False, dropout=0.0, learning_rate=1e-2,
        lr_decay="constant")
    valid = data.valid.take(np.arange(len(data.valid) // 2 * 2))  # an even count: both replicas get as many
    imputer = get("gain-mse", scenario="inplace", config=config, seed=0, strategy=strategy)
    imputer.fit(data.train, valid)
    return {k: [float(v) for v in imputer.history_[k]] for k in ("loss", "val_loss")}


one = losses_under(tf.distribute.OneDeviceStrategy("/cpu:0"))
two = losses_under(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
_backend_tf.replica_scaled = lambda loss: loss  # the control: replica gradients summed without scaling
unscaled = losses_under(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"one": one, "two": two, "unscaled": unscaled}))
