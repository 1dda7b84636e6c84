"""Training under ``tf.distribute``: two mirrored replicas give the losses of one device."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.slow
def test_mirrored_fit_matches_one_device():
    script = Path(__file__).with_name("distributed_fit.py")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(runs["two"][key], runs["one"][key], rtol=2e-6)
    # Without dividing each replica's loss by the replica count the summed gradients are twice too large; Adam
    # absorbs most of the factor, but not all of it, and the losses drift apart.
    drift = np.abs(np.array(runs["unscaled"]["loss"]) - np.array(runs["one"]["loss"])).max()
    assert drift > 2e-5
