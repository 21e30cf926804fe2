"""The adversarial game's losses, written once with `keras.ops`.

All take logits (D's raw outputs) and return the mean over the batch; they
run unchanged on every Keras backend. They compute in float32 whatever the
layers' dtype policy (``mixed_bfloat16`` makes the logits bfloat16), as
Keras's own losses do: a loss summed in 8 bits of mantissa loses the small
terms, and every loss of a step must have the same dtype to be added. Scaling for several replicas is the
gradient code's business (`backend`), not the losses'.
"""

from __future__ import annotations

from keras import ops


def _cross_entropy(target: float, logits):
    logits = ops.cast(logits, "float32")
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


def discriminator_real_loss(real_logits, label_smoothing: float = 0.0):
    """D's loss on real digits: label 1, or ``1 - label_smoothing``
    (one-sided label smoothing)."""
    return _cross_entropy(1.0 - label_smoothing, real_logits)


def discriminator_fake_loss(fake_logits):
    """D's loss on generated digits: label 0."""
    return _cross_entropy(0.0, fake_logits)


def generator_loss(fake_logits):
    """G's "non-saturating" loss: make D say 1 on its digits. It keeps a
    gradient when D is confident, unlike minimising log(1 - D(G(z)))."""
    return _cross_entropy(1.0, fake_logits)


def mode_seeking_loss(images, noise):
    """The mode-seeking term (Mao et al. 2019, MSGAN) for a batch whose two
    halves are drawn for the same labels from different noise: the inverse
    of how far apart the two digits of each pair are (mean absolute pixel
    difference) per unit of distance between their noises. A generator
    that draws one digit whatever the noise pays without bound; one whose
    digits follow its noise pays little."""
    images, noise = ops.cast(images, "float32"), ops.cast(noise, "float32")
    half = ops.shape(images)[0] // 2
    apart = ops.mean(ops.abs(images[:half] - images[half : 2 * half]), axis=(1, 2, 3))
    noise_apart = ops.mean(ops.abs(noise[:half] - noise[half : 2 * half]), axis=1)
    return ops.mean(1.0 / (apart / noise_apart + 1e-5))


def paired_labels(labels):
    """``labels`` with the first half repeated in the second, so that
    `mode_seeking_loss` compares digits of the same class."""
    half = ops.shape(labels)[0] // 2
    rest = ops.shape(labels)[0] - 2 * half
    return ops.concatenate([labels[:half], labels[:half], labels[2 * half : 2 * half + rest]], axis=0)


def r1_penalty(slopes, gamma: float):
    """The R1 penalty (Mescheder et al. 2018), ``gamma / 2 * E ||grad_x D(x)||^2``
    over real digits, from ``slopes`` = grad_x D(x)."""
    slopes = ops.cast(slopes, "float32")
    return 0.5 * gamma * ops.mean(ops.sum(ops.square(slopes), axis=tuple(range(1, len(slopes.shape)))))


def discriminator_losses(
    D,
    real,
    fake,
    labels=None,
    label_smoothing: float = 0.0,
    r1_gamma: float = 0.0,
    r1_weight: float = 1.0,
    input_gradient=None,
):
    """D's loss on ``real`` and/or ``fake`` digits (either may be None) of
    ``labels`` (conditional models; else None), and what to report
    (``real_logits``, ``real_loss``, ...). ``D(images, labels)`` gives
    logits. With ``r1_gamma`` (a regularisation step) the R1 penalty on the
    real digits joins the loss, weighted by ``r1_weight`` (lazy R1's
    interval); ``input_gradient`` is the backend's (`backend`): D's slopes
    are a gradient inside the loss."""
    logs, loss = {}, 0.0
    if real is not None and fake is not None and not r1_gamma:
        # One call on the stacked batch: D has no batch statistics, so this
        # equals two calls, and larger matmuls run faster.
        n = ops.shape(real)[0]
        both = None if labels is None else ops.concatenate([labels, labels], axis=0)
        logits = D(ops.concatenate([real, fake], axis=0), both)
        logs["real_logits"], logs["fake_logits"] = logits[:n], logits[n:]
    else:
        if real is not None and r1_gamma:
            logs["real_logits"], slopes = input_gradient(lambda x: D(x, labels), real)
            logs["r1"] = r1_penalty(slopes, r1_gamma)
            loss = loss + r1_weight * logs["r1"]
        elif real is not None:
            logs["real_logits"] = D(real, labels)
        if fake is not None:
            logs["fake_logits"] = D(fake, labels)
    if real is not None:
        logs["real_loss"] = discriminator_real_loss(logs["real_logits"], label_smoothing)
        loss = loss + logs["real_loss"]
    if fake is not None:
        logs["fake_loss"] = discriminator_fake_loss(logs["fake_logits"])
        loss = loss + logs["fake_loss"]
    return loss, logs
