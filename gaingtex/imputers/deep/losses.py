"""The deep models' objectives: masked squared error and cross-entropy, each normalised per sample. Pure functions
of tensors in ``keras.ops``, the same on every backend."""

from __future__ import annotations

from ._keras import ops


def masked_mse(x, prediction, weight):
    """Squared error over the entries where ``weight == 1``, normalised per sample by their count, averaged over
    the batch (samples with no such entry count 0)."""
    per_sample = ops.sum(weight * ops.square(x - prediction), axis=-1)
    return ops.mean(per_sample / ops.maximum(ops.sum(weight, axis=-1), 1.0))


def masked_bce(target, logits, weight):
    """Binary cross-entropy (from logits) over the entries where ``weight == 1``, normalised per sample by their
    count, averaged over the batch."""
    bce = ops.binary_crossentropy(target, logits, from_logits=True)
    per_sample = ops.sum(weight * bce, axis=-1)
    return ops.mean(per_sample / ops.maximum(ops.sum(weight, axis=-1), 1.0))


def pmi_loss(x, prediction, mask, keep):
    """PMI: error on the entries that were observed (``mask``) but pseudo-hidden (``keep == 0``)."""
    return masked_mse(x, prediction, mask * (1.0 - keep))


def discriminator_loss(mask, logits, hint_known):
    """GAIN discriminator: predict the mask on the entries whose hint is hidden (``hint_known == 0``)."""
    return masked_bce(mask, logits, 1.0 - hint_known)


def adversarial_loss(mask, logits, hint_known):
    """GAIN generator: make the discriminator call the missing, hint-hidden entries observed."""
    return masked_bce(ops.ones_like(mask), logits, (1.0 - mask) * (1.0 - hint_known))

