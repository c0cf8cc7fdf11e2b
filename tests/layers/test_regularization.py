"""kernel_regularizer / bias_regularizer on Conv and Dense, and their effect in training."""
import numpy as np
import pytest

from convolve import regularizers
from convolve.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D, clear_session
from convolve.models import Sequential
from convolve.utils import set_random_seed


@pytest.fixture(autouse=True)
def _fresh():
    clear_session()


def test_regularized_weights_and_config():
    conv = Conv2D(2, 3, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    conv(np.zeros((1, 5, 5, 1)))
    pairs = conv.regularized_weights()
    assert [(v.name, type(r).__name__) for v, r in pairs] == [("kernel", "L2"), ("bias", "L1")]
    config = conv.get_config()
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    clone = Conv2D.from_config(config)
    assert isinstance(clone.bias_regularizer, regularizers.L1) and clone.bias_regularizer.l1 == 0.5
    assert Dense(3).regularized_weights() == [] and "kernel_regularizer" not in Dense(3).get_config()


def test_unknown_regularizer_and_unsupported_layer():
    with pytest.raises(ValueError, match=r"Dense: unknown regularizer.*Received: 'l3'"):
        Dense(3, kernel_regularizer="l3")
    with pytest.raises(
        TypeError,
        match=r"Unrecognized keyword argument\(s\) passed to MaxPooling2D: \['kernel_regularizer'\]",
    ):
        MaxPooling2D(kernel_regularizer="l2")


def test_penalty_is_added_to_the_loss_and_its_gradient_applied():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 6, 6, 1)), rng.integers(0, 3, 16)

    def model(reg):
        set_random_seed(1)
        clear_session()
        m = Sequential(
            [
                Input((6, 6, 1)),
                Conv2D(2, 3, kernel_regularizer=reg),
                Flatten(),
                Dense(3, activation="softmax"),
            ]
        )
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    plain, regular = model(None), model(regularizers.L2(0.1))
    kernel = regular.layers[0].get_weights()[0]
    loss_plain = plain.train_on_batch(x, y)
    loss_reg = regular.train_on_batch(x, y)
    assert loss_reg == pytest.approx(loss_plain + 0.1 * np.sum(kernel.astype(np.float64) ** 2), rel=1e-5)
    # SGD(0.01): the regularized kernel moved by an extra -lr * 2 * 0.1 * kernel
    moved = regular.layers[0].get_weights()[0] - plain.layers[0].get_weights()[0]
    np.testing.assert_allclose(moved, -0.01 * 0.2 * kernel, rtol=1e-3, atol=1e-7)
