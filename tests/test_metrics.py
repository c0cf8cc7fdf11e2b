"""Tests for convolve/metrics.py: hand-computed values, sample weights, accumulation across
update_state calls, Keras' choice of 'accuracy', get/serialize and every error."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import losses, metrics
from convolve.metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)

# --- values by hand ---------------------------------------------------------------------------------


def test_mean_weighted_and_accumulated():
    m = Mean()
    m.update_state([1.0, 2.0, 3.0])
    assert m.result() == 2.0
    m.update_state([10.0], sample_weight=[2.0])
    assert m.result() == pytest.approx((1 + 2 + 3 + 20) / 5)
    m.update_state(4.0)  # a scalar counts as one value
    assert m.result() == pytest.approx((26 + 4) / 6)
    m.reset_state()
    assert m.result() == 0.0 and m.total == 0.0 and m.count == 0.0
    # values with extra axes: averaged per sample first
    m.update_state([[1.0, 3.0], [5.0, 7.0]])
    assert m.result() == 4.0 and m.count == 2
    m.reset_state()
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[1.0, 3.0])
    assert m.result() == pytest.approx((2 * 1 + 6 * 3) / 4)
    m.reset_state()
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[[1.0, 0.0], [0.0, 1.0]])  # one weight per value
    assert m.result() == pytest.approx((1 + 7) / 2)
    m.reset_state()
    m.update_state([2.0, 4.0], sample_weight=3.0)  # a scalar weight weights each sample
    assert m.result() == 3.0 and m.count == 6.0
    m.reset_state()
    m.update_state(5.0, sample_weight=32)  # how the training loop tracks the loss: a batch of 32
    m.update_state(2.0, sample_weight=8)
    assert m.result() == pytest.approx((5 * 32 + 2 * 8) / 40)


def test_accuracy():
    m = Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == 0.75
    m.update_state([1, 1], [1, 0])  # accumulates: 4 of 6
    assert m.result() == pytest.approx(4 / 6)
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == 0.5
    assert m.name == "accuracy" and m._direction == "up"


def test_binary_accuracy():
    m = BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [0.5], [0.0], [0.6]])  # 0.5 is not > 0.5
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == 0.5
    m = BinaryAccuracy(threshold=0.7)
    m.update_state([1, 1, 0], [0.8, 0.69, 0.71])
    assert m.result() == pytest.approx(1 / 3)
    m.update_state([1, 0, 0], [0.9, 0.1, 0.2])  # 4 of 6
    assert m.result() == pytest.approx(4 / 6)
    # several outputs per sample: per-sample means, then weighted by sample
    m = BinaryAccuracy()
    m.update_state([[1, 0], [1, 1]], [[0.9, 0.9], [0.9, 0.9]], sample_weight=[3.0, 1.0])
    assert m.result() == pytest.approx((0.5 * 3 + 1.0 * 1) / 4)


def test_categorical_and_sparse_categorical_accuracy():
    y_pred = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0], [0.5, 0.3, 0.2]])
    m = CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0], [1, 0, 0]], y_pred)
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0], [1, 0, 0]], y_pred, sample_weight=[0.7, 0.3, 0.0])
    assert m.result() == pytest.approx(0.3)
    s = SparseCategoricalAccuracy()
    s.update_state([2, 1, 0], y_pred)
    assert s.result() == pytest.approx(2 / 3)
    s.update_state([[1], [0]], [[0.2, 0.8], [0.4, 0.6]])  # labels with a trailing 1; 3 of 5 so far
    assert s.result() == pytest.approx(3 / 5)
    s.reset_state()
    s.update_state([2.0, 1.0, 0.0], y_pred, sample_weight=[0.7, 0.3, 0.0])
    assert s.result() == pytest.approx(0.3)
    # per position in an image: (batch, h, w, classes)
    s.reset_state()
    logits = np.zeros((2, 2, 2, 3))
    logits[..., 1] = 1.0
    labels = np.array([[[1, 1], [1, 0]], [[0, 0], [0, 0]]])
    s.update_state(labels, logits, sample_weight=[1.0, 1.0])
    assert s.result() == pytest.approx((3 / 4 + 0) / 2)


def test_top_k_accuracies():
    y_pred = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    labels = np.array([1, 1, 3])
    m = SparseTopKCategoricalAccuracy(k=2)
    m.update_state(labels, y_pred)
    # row 0: label 1 has the third-highest score -> out; row 1: second -> in; row 2: ties count as in
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    m.update_state(labels, y_pred, sample_weight=[1.0, 0.0, 0.0])
    assert m.result() == 0.0
    t = TopKCategoricalAccuracy(k=1)
    t.update_state(np.eye(4)[labels], y_pred)
    assert t.result() == pytest.approx(1 / 3)  # only row 2, where the four-way tie at the top counts as in
    t = TopKCategoricalAccuracy()  # k=5 >= 4 classes: always in
    t.update_state(np.eye(4)[labels], y_pred)
    assert t.result() == 1.0 and t.k == 5
    assert SparseTopKCategoricalAccuracy(k=3)([[3]], [[0.1, 0.2, 0.3, 0.05]]) == 0.0


def test_mean_squared_and_absolute_error():
    y_true, y_pred = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]
    m = MeanSquaredError()
    m.update_state(y_true, y_pred)
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[0.0, 0.0], [0.0, 0.0]], [[1.0, 3.0], [2.0, 2.0]], sample_weight=[1.0, 0.0])
    assert m.result() == 5.0
    m.update_state([[0.0, 0.0]], [[1.0, 1.0]], sample_weight=[1.0])  # (5 + 1) / 2
    assert m.result() == 3.0
    a = MeanAbsoluteError()
    a.update_state([[0.0, 0.0], [0.0, 0.0]], [[1.0, 3.0], [2.0, -2.0]], sample_weight=[1.0, 3.0])
    assert a.result() == pytest.approx((2 * 1 + 2 * 3) / 4)
    assert m._direction == a._direction == "down"
    assert metrics.mean_squared_error([[0.0, 2.0]], [[0.0, 0.0]]).tolist() == [2.0]


def test_call_updates_and_returns_the_result():
    m = Accuracy()
    assert m([1, 2], [1, 3]) == 0.5
    assert m([1, 2], [1, 2]) == 0.75  # accumulated
    assert "Accuracy" in repr(m) and "0.75" in repr(m)


def test_metric_functions_return_per_sample_values():
    assert metrics.accuracy([1, 2], [1, 3]).tolist() == [1.0, 0.0]
    assert metrics.binary_accuracy([[1], [0]], [[0.6], [0.6]]).tolist() == [[1.0], [0.0]]
    assert metrics.categorical_accuracy([[0, 1], [1, 0]], [[0.3, 0.7], [0.3, 0.7]]).tolist() == [1.0, 0.0]
    assert metrics.sparse_categorical_accuracy([1, 0], [[0.3, 0.7], [0.3, 0.7]]).tolist() == [1.0, 0.0]
    assert metrics.top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2).tolist() == [0.0]
    assert metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.3, 0.2]], k=3).tolist() == [1.0]


# --- get: names, 'accuracy' from the loss, configs ------------------------------------------------------


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("sparse_categorical_crossentropy", SparseCategoricalAccuracy),
        (losses.SparseCategoricalCrossentropy(from_logits=True), SparseCategoricalAccuracy),
        ("categorical_crossentropy", CategoricalAccuracy),
        (losses.categorical_crossentropy, CategoricalAccuracy),
        ("binary_crossentropy", BinaryAccuracy),
        ("bce", BinaryAccuracy),
    ],
)
def test_accuracy_follows_the_loss(loss, expected):
    for identifier in ("accuracy", "acc", "Accuracy", "ACC"):
        m = metrics.get(identifier, loss=loss)
        assert type(m) is expected and m.name == identifier


def test_binary_accuracy_on_logits_thresholds_at_zero():
    m = metrics.get("accuracy", loss=losses.BinaryCrossentropy(from_logits=True))
    assert isinstance(m, BinaryAccuracy) and m.threshold == 0.0
    m.update_state([[1], [0], [1]], [[0.3], [-0.2], [-1.0]])
    assert m.result() == pytest.approx(2 / 3)
    assert metrics.get("accuracy", loss="binary_crossentropy").threshold == 0.5


@pytest.mark.parametrize(
    "y_true, y_pred, chosen",
    [
        ([[1], [0]], [[0.7], [0.2]], BinaryAccuracy),  # one output: binary
        ([1, 0], [[0.3, 0.7], [0.9, 0.1]], SparseCategoricalAccuracy),  # labels of lower rank
        ([[1], [0]], [[0.3, 0.7], [0.9, 0.1]], SparseCategoricalAccuracy),  # labels ending in 1
        ([[0, 1], [1, 0]], [[0.3, 0.7], [0.9, 0.1]], CategoricalAccuracy),
    ],
)
def test_accuracy_with_another_loss_follows_the_shapes_as_keras_3(y_true, y_pred, chosen):
    for loss in (None, "mse"):
        m = metrics.get("accuracy", loss=loss)
        assert m.name == "accuracy" and m.result() == 0.0
        m.update_state(y_true, y_pred)
        assert type(m.chosen) is chosen and m.result() == 1.0
        m.reset_state()
        assert m.result() == 0.0
    assert metrics.serialize(m) == "accuracy"


def test_get_by_name_instance_class_callable_and_config():
    m = metrics.get("mse")
    assert isinstance(m, MeanSquaredError) and m.name == "mse"  # named as given, like Keras' logs
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    assert isinstance(metrics.get("top_k_categorical_accuracy"), TopKCategoricalAccuracy)
    assert isinstance(metrics.get("SparseTopKCategoricalAccuracy"), SparseTopKCategoricalAccuracy)
    assert isinstance(metrics.get("binary_accuracy"), BinaryAccuracy)
    assert metrics.get(None) is None
    instance = BinaryAccuracy(threshold=0.3)
    assert metrics.get(instance) is instance
    assert isinstance(metrics.get(CategoricalAccuracy), CategoricalAccuracy)
    assert isinstance(metrics.get(metrics.sparse_categorical_accuracy), SparseCategoricalAccuracy)

    def my_metric(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    wrapped = metrics.get(my_metric)
    assert isinstance(wrapped, MeanMetricWrapper) and wrapped.name == "my_metric"
    assert wrapped([1.0, 2.0], [2.0, 2.0]) == 0.5
    for metric in (
        BinaryAccuracy(threshold=0.3, name="ba"),
        SparseTopKCategoricalAccuracy(k=2),
        Mean(name="m"),
        MeanSquaredError(),
        MeanMetricWrapper(metrics.categorical_accuracy),
    ):
        config = metrics.serialize(metric)
        again = metrics.get(config)
        assert type(again) is type(metric) and again.get_config() == metric.get_config()
    assert metrics.serialize(BinaryAccuracy(threshold=0.3)) == {
        "class_name": "BinaryAccuracy",
        "config": {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.3},
    }
    assert metrics.serialize(metrics.accuracy) == "accuracy"
    assert metrics.DIRECTIONS["mse"] == "down" and metrics.DIRECTIONS["acc"] == "up"


# --- every error ----------------------------------------------------------------------------------------


def test_errors():
    class Bare(Metric):
        pass

    bare = Bare()
    assert bare.name == "bare"
    with pytest.raises(NotImplementedError, match="Bare: a Metric subclass must implement update_state"):
        bare.update_state(1)
    with pytest.raises(NotImplementedError, match="Bare: a Metric subclass must implement result"):
        bare.result()
    with pytest.raises(NotImplementedError, match="Bare: a Metric subclass must implement reset_state"):
        bare.reset_state()
    with pytest.raises(
        ValueError,
        match=r"Mean 'mean': expected sample_weight with one weight per sample, shape \(3,\), "
        r"or the values' shape \(3,\). Received: sample_weight.shape=\(2,\)",
    ):
        Mean().update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match=r"Mean 'mean' expected a numeric array.*values"):
        Mean().update_state(["a"])
    with pytest.raises(
        TypeError, match=r"MeanMetricWrapper: expected a callable fn\(y_true, y_pred\). Received: fn='x'"
    ):
        MeanMetricWrapper("x")
    with pytest.raises(
        ValueError,
        match=r"MeanMetricWrapper.from_config: expected fn to name one of \['accuracy', .*\]. "
        r"Received: fn='nope'",
    ):
        MeanMetricWrapper.from_config({"name": "n", "dtype": "float32", "fn": "nope"})
    for cls in (TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy):
        with pytest.raises(
            ValueError, match=rf"{cls.__name__}: the `k` argument must be a positive int. Received: k=0"
        ):
            cls(k=0)
    with pytest.raises(
        ValueError,
        match=r"top_k_categorical_accuracy: the `k` argument must be a positive int. Received: k=1.5",
    ):
        metrics.top_k_categorical_accuracy([[1, 0]], [[0.5, 0.5]], k=1.5)
    with pytest.raises(ValueError, match=r"accuracy: expected y_true and y_pred of the same shape. "
                                         r"Received: y_true.shape=\(3,\), y_pred.shape=\(2,\)"):
        Accuracy().update_state([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"binary_accuracy: expected y_true and y_pred of the same shape. "
                                         r"Received: y_true.shape=\(2, 3\), y_pred.shape=\(2, 2\)"):
        BinaryAccuracy().update_state(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"categorical_accuracy: expected one-hot y_true with y_pred's shape \(for integer "
        r"labels use the sparse_ metric\). Received: y_true.shape=\(2,\), y_pred.shape=\(2, 3\)",
    ):
        CategoricalAccuracy().update_state([0, 1], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"top_k_categorical_accuracy: expected one-hot"):
        TopKCategoricalAccuracy().update_state([0, 1], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy: expected integer labels of shape "
                                         r"y_pred.shape\[:-1\] = \(2,\) \(or with a trailing 1\). "
                                         r"Received: y_true.shape=\(2, 3\), y_pred.shape=\(2, 3\)"):
        SparseCategoricalAccuracy().update_state(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"sparse_top_k_categorical_accuracy: expected integer class labels in \[0, 3\). "
        r"Received: labels \[3.0\]",
    ):
        SparseTopKCategoricalAccuracy(k=1).update_state([0, 3], np.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"unknown metric class_name. Expected one of \['Accuracy', .*\]. Received: class_name='AUC'",
    ):
        metrics.get({"class_name": "AUC", "config": {}})
    with pytest.raises(
        ValueError,
        match=r"unknown metric. Expected one of \['acc', 'accuracy', 'binary_accuracy', "
        r"'categorical_accuracy', 'mae', 'mean_absolute_error', 'mean_squared_error', 'mse', "
        r"'sparse_categorical_accuracy', 'sparse_top_k_categorical_accuracy', "
        r"'top_k_categorical_accuracy'\], a Metric or a callable.*Received: 'auc'",
    ):
        metrics.get("auc")
    with pytest.raises(ValueError, match=r"unknown metric.*Received: 7"):
        metrics.get(7)
