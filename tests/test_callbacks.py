"""Tests for convolve/callbacks.py, driven by a small fake model that offers only the interface
callbacks may use (stop_training, get/set_weights, save, save_weights, optimizer.learning_rate)."""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

from convolve.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    __slots__ = ("learning_rate",)

    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """The whole model interface a callback may use; __slots__ makes any other attribute an error."""

    __slots__ = ("stop_training", "optimizer", "_weights", "saved")

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self._weights = [np.zeros(3), np.zeros(1)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w, copy=True) for w in weights]

    def save(self, path):
        with open(path, "w") as f:
            f.write("model")
        self.saved.append(("model", os.path.basename(path)))

    def save_weights(self, path):
        with open(path, "w") as f:
            f.write("weights")
        self.saved.append(("weights", os.path.basename(path)))

    def mark(self):
        """Which epoch's weights the model holds (fit() below writes the epoch into them)."""
        return int(self._weights[0][0])


def fit(model, callbacks, epoch_logs, batches=2, batch_logs=None):
    """A training loop's calls, as convolve.models' fit makes them; returns the epochs run.

    After each epoch the weights hold the epoch's number, so restored weights say where they came from.
    """
    cbs = CallbackList(callbacks, model=model, epochs=len(epoch_logs), steps=batches, verbose=0)
    model.stop_training = False
    cbs.on_train_begin({})
    ran = []
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch, {})
        for batch in range(batches):
            cbs.on_train_batch_begin(batch, {})
            cbs.on_train_batch_end(batch, dict(batch_logs(epoch, batch)) if batch_logs else {"loss": 1.0})
            if model.stop_training:
                break
        model._weights = [np.full(3, float(epoch)), np.full(1, float(epoch))]
        cbs.on_epoch_end(epoch, dict(logs))
        ran.append(epoch)
        if model.stop_training:
            break
    cbs.on_train_end({})
    return ran


def losses_logs(values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


# --- Callback, CallbackList, History ---------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self, name, journal):
        super().__init__()
        self.name, self.journal = name, journal

    def __getattribute__(self, attr):
        if attr.startswith("on_"):
            journal, name = object.__getattribute__(self, "journal"), object.__getattribute__(self, "name")
            method = object.__getattribute__(self, attr)

            def record(*args, **kwargs):
                journal.append((name, attr, args[0] if args and not isinstance(args[0], dict) else None))
                return method(*args, **kwargs)

            return record
        return object.__getattribute__(self, attr)


def test_callback_list_calls_every_hook_of_every_callback_in_order():
    journal = []
    a, b = Recorder("a", journal), Recorder("b", journal)
    model = FakeModel()
    cbs = CallbackList([a, [b]], model=model, epochs=3)
    assert a.model is model and b.model is model and a.params == {"epochs": 3} and len(cbs) == 2
    hooks = [
        ("on_train_begin", ()),
        ("on_epoch_begin", (0,)),
        ("on_train_batch_begin", (0,)),
        ("on_train_batch_end", (0,)),
        ("on_epoch_end", (0,)),
        ("on_train_end", ()),
        ("on_test_begin", ()),
        ("on_test_batch_begin", (1,)),
        ("on_test_batch_end", (1,)),
        ("on_test_end", ()),
        ("on_predict_begin", ()),
        ("on_predict_batch_begin", (2,)),
        ("on_predict_batch_end", (2,)),
        ("on_predict_end", ()),
        ("on_batch_begin", (3,)),
        ("on_batch_end", (3,)),
    ]
    for hook, args in hooks:
        getattr(cbs, hook)(*args, {"loss": np.float32(0.5)})
    called = [(n, h) for n, h, _ in journal]
    expected = []
    for hook, _ in hooks:
        for name in ("a", "b"):
            expected.append((name, hook))
            if hook == "on_train_batch_begin":
                expected.append((name, "on_batch_begin"))  # the Keras alias, called by the base class
            if hook == "on_train_batch_end":
                expected.append((name, "on_batch_end"))
    assert called == expected
    assert [i for n, h, i in journal if h == "on_test_batch_end"] == [1, 1]


def test_callback_list_passes_one_logs_dict_with_python_floats():
    seen = []

    class Peek(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs)

    logs = {"loss": np.float32(0.25), "acc": np.array(0.5)}
    CallbackList([Peek(), Peek()]).on_epoch_end(0, logs)
    assert seen[0] is seen[1] is logs
    assert type(logs["loss"]) is float and logs == {"loss": 0.25, "acc": 0.5}
    CallbackList([Peek()]).on_epoch_end(1)  # no logs: an empty dict
    assert seen[-1] == {}


def test_history_and_add_history():
    model = FakeModel()
    history = History()
    fit(model, [history], [{"loss": 3.0, "val_loss": 4.0}, {"loss": 2.0, "val_loss": 3.5}])
    assert history.history == {"loss": [3.0, 2.0], "val_loss": [4.0, 3.5]}
    assert history.epoch == [0, 1] and history.params == {"epochs": 2, "steps": 2, "verbose": 0}
    cbs = CallbackList([], add_history=True)
    assert isinstance(cbs.history, History) and cbs.callbacks == [cbs.history]
    assert CallbackList([history], add_history=True).callbacks == [history]
    cbs = CallbackList([Callback()], model=model, epochs=1)
    extra = History()
    cbs.append(extra)
    assert extra.model is model and extra.params == {"epochs": 1}


# --- EarlyStopping ------------------------------------------------------------------------------------------


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights(capsys):
    model = FakeModel()
    stop = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    # best at epoch 1; epochs 2 and 3 do not improve -> stop at the end of epoch 3
    ran = fit(model, [stop], losses_logs([1.0, 0.5, 0.6, 0.7, 0.1, 0.1]))
    assert ran == [0, 1, 2, 3] and model.stop_training and stop.stopped_epoch == 3
    assert model.mark() == 1 and stop.best == 0.5 and stop.best_epoch == 1
    out = capsys.readouterr().out
    assert (
        "Epoch 4: early stopping" in out
        and "Restoring model weights from the end of the best epoch: 2." in out
    )


def test_early_stopping_keras_doc_example_and_defaults():
    model = FakeModel()
    ran = fit(model, [EarlyStopping(monitor="loss", patience=3)], [{"loss": 0.0}] * 10)
    assert len(ran) == 4  # Keras' example: only 4 epochs are run
    ran = fit(model, [EarlyStopping()], losses_logs([1.0, 0.9, 0.95, 0.1]))  # patience 0: first miss stops
    assert ran == [0, 1, 2] and model.mark() == 2  # without restore_best_weights the last weights stay


def test_early_stopping_min_delta_mode_baseline_and_start_from_epoch():
    model = FakeModel()
    # improvements of 0.05 are not more than min_delta=0.1
    assert fit(model, [EarlyStopping(min_delta=0.1, patience=1)], losses_logs([1.0, 0.95, 0.9, 0.85])) == [
        0,
        1,
    ]
    assert fit(model, [EarlyStopping(min_delta=0.01, patience=1)], losses_logs([1.0, 0.95, 0.9, 0.85])) == [
        0,
        1,
        2,
        3,
    ]
    # accuracy rises: auto mode knows
    assert fit(
        model, [EarlyStopping(monitor="val_accuracy")], losses_logs([0.5, 0.6, 0.55, 0.7], "val_accuracy")
    ) == [0, 1, 2]
    assert fit(model, [EarlyStopping(monitor="val_loss", mode="max")], losses_logs([0.5, 0.6, 0.55])) == [
        0,
        1,
        2,
    ]
    # a baseline never beaten: stop after `patience` epochs, restore the best of them
    stop = EarlyStopping(baseline=0.5, patience=3, restore_best_weights=True)
    assert fit(model, [stop], losses_logs([0.9, 0.8, 0.85, 0.95, 0.7])) == [0, 1, 2]
    assert model.mark() == 1
    # beating the baseline restarts the wait
    assert fit(
        model, [EarlyStopping(baseline=0.5, patience=2)], losses_logs([0.9, 0.4, 0.45, 0.46, 0.3])
    ) == [0, 1, 2, 3]
    # nothing is looked at before start_from_epoch
    stop = EarlyStopping(patience=0, start_from_epoch=3)
    assert fit(model, [stop], losses_logs([0.1, 0.5, 0.9, 1.0, 1.1, 1.2])) == [0, 1, 2, 3, 4]
    assert stop.best == 1.0


def test_early_stopping_restores_even_without_stopping_and_can_be_reused():
    model = FakeModel()
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    assert fit(model, [stop], losses_logs([1.0, 0.2, 0.5])) == [0, 1, 2]
    assert not model.stop_training and model.mark() == 1  # Keras 3 restores at the end of training
    assert fit(model, [stop], losses_logs([3.0, 2.0, 2.5])) == [0, 1, 2]  # a fresh start: best is reset
    assert stop.best == 2.0 and model.mark() == 1


def test_early_stopping_missing_monitor_warns_and_never_stops():
    model = FakeModel()
    with pytest.warns(
        UserWarning,
        match=r"Early stopping conditioned on metric `val_loss` which is not available. "
        r"Available metrics are: loss,accuracy",
    ):
        ran = fit(model, [EarlyStopping(restore_best_weights=True)], [{"loss": 1.0, "accuracy": 0.1}] * 3)
    assert ran == [0, 1, 2] and model.mark() == 2


# --- ModelCheckpoint ----------------------------------------------------------------------------------------


def test_model_checkpoint_saves_only_improvements_with_formatted_names(tmp_path, capsys):
    model = FakeModel()
    path = tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.model"
    check = ModelCheckpoint(path, save_best_only=True, verbose=1)
    fit(model, [check], losses_logs([0.5, 0.6, 0.4, 0.4, 0.3]))
    assert model.saved == [("model", "01-0.50.model"), ("model", "03-0.40.model"), ("model", "05-0.30.model")]
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["01-0.50.model", "03-0.40.model", "05-0.30.model"]
    out = capsys.readouterr().out
    assert (
        f"Epoch 1: val_loss improved from inf to 0.50000, saving model to {tmp_path}/ckpt/01-0.50.model"
        in out
    )
    assert "Epoch 2: val_loss did not improve from 0.50000" in out
    assert f"Epoch 3: finished saving model to {tmp_path}/ckpt/03-0.40.model" in out


def test_model_checkpoint_every_epoch_weights_only_mode_and_threshold(tmp_path):
    model = FakeModel()
    fit(model, [ModelCheckpoint(tmp_path / "w.weights", save_weights_only=True)], losses_logs([0.5, 0.6]))
    assert model.saved == [("weights", "w.weights")] * 2
    model = FakeModel()
    fit(model, [ModelCheckpoint(str(tmp_path / "a{epoch}.m"), monitor="val_accuracy", save_best_only=True)],
        losses_logs([0.5, 0.7, 0.6, 0.8], "val_accuracy"))
    assert [name for _, name in model.saved] == ["a1.m", "a2.m", "a4.m"]
    model = FakeModel()
    fit(
        model,
        [ModelCheckpoint(str(tmp_path / "b{epoch}.m"), save_best_only=True, initial_value_threshold=0.45)],
        losses_logs([0.5, 0.44, 0.46, 0.3]),
    )
    assert [name for _, name in model.saved] == ["b2.m", "b4.m"]
    model = FakeModel()
    fit(
        model,
        [ModelCheckpoint(str(tmp_path / "c{epoch}.m"), monitor="val_mse", mode="max", save_best_only=True)],
        losses_logs([0.5, 0.4, 0.6], "val_mse"),
    )
    assert [name for _, name in model.saved] == ["c1.m", "c3.m"]


def test_model_checkpoint_by_batches(tmp_path):
    model = FakeModel()
    # 2 batches an epoch, a save every 3 batches: after epoch 1's second batch and epoch 2's... (1-based)
    fit(model, [ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.m"), save_freq=3)], losses_logs([1.0] * 4))
    assert [name for _, name in model.saved] == ["e2-b1.m", "e3-b2.m"]


def test_model_checkpoint_missing_monitor_warns_and_saves(tmp_path):
    model = FakeModel()
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available."):
        fit(model, [ModelCheckpoint(str(tmp_path / "m.m"), save_best_only=True)], [{"loss": 1.0}])
    assert model.saved == [("model", "m.m")]


# --- ReduceLROnPlateau --------------------------------------------------------------------------------------


def lr_per_epoch(model, callback, values, key="val_loss"):
    history = History()
    fit(model, [callback, history], losses_logs(values, key))
    return history.history["learning_rate"]


def test_reduce_lr_after_patience(capsys):
    model = FakeModel(0.1)
    rates = lr_per_epoch(model, ReduceLROnPlateau(factor=0.5, patience=2, verbose=1), [1.0] * 7)
    # logs carry the rate each epoch ran with; it is reduced at the ends of epochs 2, 4 and 6 (0-based)
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    out = capsys.readouterr().out
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05." in out
    assert "Epoch 5: ReduceLROnPlateau reducing learning rate to 0.025." in out


def test_reduce_lr_cooldown_min_lr_and_min_delta():
    # cooldown=2: after a reduction two epochs are not counted (reductions after epochs 2 and 5, not 2, 4, 6)
    rates = lr_per_epoch(FakeModel(0.1), ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2), [1.0] * 8)
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    # min_lr is a floor
    rates = lr_per_epoch(FakeModel(0.1), ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005), [1.0] * 5)
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.005, 0.005])
    # improvements under min_delta do not reset the wait
    rates = lr_per_epoch(
        FakeModel(0.1), ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.1), [1.0, 0.95, 0.9, 0.85]
    )
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05])
    rates = lr_per_epoch(FakeModel(0.1), ReduceLROnPlateau(factor=0.5, patience=2), [1.0, 0.95, 0.9, 0.85])
    assert rates == pytest.approx([0.1] * 4)
    # accuracy rises
    rates = lr_per_epoch(FakeModel(0.1), ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1),
                         [0.5, 0.6, 0.6, 0.7], "val_accuracy")
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05])


def test_reduce_lr_missing_monitor_warns():
    model = FakeModel(0.1)
    with pytest.warns(
        UserWarning,
        match=r"Learning rate reduction is conditioned on metric `val_loss` which is not "
        r"available. Available metrics are: loss,learning_rate.",
    ):
        fit(model, [ReduceLROnPlateau(patience=0)], [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == 0.1


# --- LearningRateScheduler, TerminateOnNaN ------------------------------------------------------------------


def test_learning_rate_scheduler(capsys):
    model = FakeModel(0.1)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr if epoch < 2 else lr * 0.5

    rates = lr_per_epoch(model, LearningRateScheduler(schedule, verbose=1), [1.0] * 4)
    assert seen == [(0, 0.1), (1, 0.1), (2, 0.1), (3, 0.05)]
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    rates = lr_per_epoch(FakeModel(0.1), LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1)), [1.0] * 3)
    assert rates == pytest.approx([0.01, 0.02, 0.03])  # the one-argument form
    rates = lr_per_epoch(FakeModel(0.1), LearningRateScheduler(lambda epoch, lr: np.float32(1)), [1.0])
    assert rates == [1.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    ran = fit(model, [TerminateOnNaN()], losses_logs([1.0] * 3), batches=3,
              batch_logs=lambda e, b: {"loss": bad if (e, b) == (1, 1) else 0.5})
    assert ran == [0, 1] and model.stop_training
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    model = FakeModel()
    assert fit(model, [TerminateOnNaN()], losses_logs([1.0] * 3)) == [0, 1, 2] and not model.stop_training
    with pytest.raises(
        RuntimeError,
        match=r"NaN or Inf loss encountered at batch 0. Loss value: (nan|inf|-inf). "
        r"Terminating training immediately.",
    ):
        fit(
            FakeModel(),
            [TerminateOnNaN(raise_error=True)],
            losses_logs([1.0]),
            batch_logs=lambda e, b: {"loss": bad},
        )


# --- CSVLogger ----------------------------------------------------------------------------------------------


def read_rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_rows(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75}, {"loss": 0.25, "accuracy": 0.5}]
    fit(FakeModel(), [CSVLogger(path)], logs)
    assert read_rows(path) == [["epoch", "accuracy", "loss", "val_loss"], ["0", "0.25", "0.5", "0.75"],
                               ["1", "0.5", "0.25", "NA"]]
    # no val_ keys in the first epoch: their columns are added, as Keras does
    fit(FakeModel(), [CSVLogger(path, separator=";")], [{"loss": 1.5, "extra": [1, 2]}])
    assert read_rows(path, ";") == [
        ["epoch", "extra", "loss", "val_extra", "val_loss"],
        ["0", '"[1, 2]"', "1.5", "NA", "NA"],
    ]


def test_csv_logger_append_and_overwrite(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0}] * 2)
    fit(FakeModel(), [CSVLogger(path, append=True)], [{"loss": 0.5, "val_loss": 1.0}])
    assert read_rows(path) == [
        ["epoch", "loss", "val_loss"],
        ["0", "1.0", "2.0"],
        ["1", "1.0", "2.0"],
        ["0", "0.5", "1.0"],
    ]
    fit(FakeModel(), [CSVLogger(path)], [{"loss": 0.25, "val_loss": 0.5}])
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "0.25", "0.5"]]
    fresh = tmp_path / "sub" / "new.csv"
    fit(FakeModel(), [CSVLogger(fresh, append=True)], [{"loss": 0.25}])
    assert read_rows(fresh)[0] == ["epoch", "loss", "val_loss"]


def test_csv_logger_keeps_rows_when_training_crashes(tmp_path):
    path = tmp_path / "log.csv"

    class Crash(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(FakeModel(), [CSVLogger(path), Crash()], [{"loss": float(i)} for i in range(5)])
    assert [row[0] for row in read_rows(path)] == [
        "epoch",
        "0",
        "1",
        "2",
    ]  # on disk, though on_train_end never ran


# --- every error --------------------------------------------------------------------------------------------


def test_errors(tmp_path):
    with pytest.raises(
        TypeError,
        match=r"CallbackList: expected Callback instances, e.g. EarlyStopping\(patience=3\). "
        r"Received: <class .*EarlyStopping'> of type the class EarlyStopping "
        r"\(call it: EarlyStopping\(...\)\)",
    ):
        CallbackList([EarlyStopping])
    with pytest.raises(TypeError, match=r"Received: 'stop' of type str"):
        CallbackList(["stop"])
    with pytest.raises(
        TypeError, match=r"CallbackList.append: expected a Callback instance. Received: 3 of type int"
    ):
        CallbackList().append(3)
    for cls in (EarlyStopping, ReduceLROnPlateau):
        with pytest.warns(
            UserWarning, match=rf"{cls.__name__} mode 'maximum' is unknown, fallback to auto mode."
        ):
            assert cls(mode="maximum").mode == "auto"
    with pytest.warns(UserWarning, match=r"ModelCheckpoint mode 'up' is unknown"):
        ModelCheckpoint("x", mode="up")
    with pytest.raises(
        ValueError,
        match=r"EarlyStopping callback received monitor=val_f1, but it cannot tell whether that "
        r"metric should be maximized or minimized. Pass `mode='max'`.*`mode='min'`",
    ):
        EarlyStopping(monitor="val_f1")
    with pytest.raises(ValueError, match=r"ModelCheckpoint callback received monitor=f1"):
        ModelCheckpoint("x", monitor="f1", save_best_only=True)
    assert (
        ModelCheckpoint("x", monitor="f1").monitor == "f1"
    )  # the direction only matters with save_best_only
    assert ReduceLROnPlateau(monitor="val_f1").direction == "min"  # Keras' rule there: min unless 'acc'
    for bad in ("batch", 0, 2.5, True):
        with pytest.raises(
            ValueError,
            match=r"ModelCheckpoint: the `save_freq` argument must be 'epoch' or a positive int "
            rf"\(a number of batches\). Received: save_freq={bad!r}",
        ):
            ModelCheckpoint("x", save_freq=bad)
    with pytest.raises(
        KeyError,
        match=r"Failed to format this callback filepath: \".*/\{epoch\}-\{val_acc:.2f\}.m\". "
        r"Reason: no value for val_acc. Available keys: epoch, loss, val_loss",
    ):
        fit(FakeModel(), [ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc:.2f}.m"))], losses_logs([1.0]))
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError, match=r"ModelCheckpoint: please specify a non-directory filepath. "
                                                r"Received: filepath=.*which names the existing directory"):
        fit(FakeModel(), [ModelCheckpoint(str(tmp_path / "adir"))], losses_logs([1.0]))
    with pytest.raises(
        ValueError, match=r"ReduceLROnPlateau does not support a factor >= 1.0. Received: factor=1.5"
    ):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau: unexpected arguments. Received: epsilon"):
        ReduceLROnPlateau(epsilon=1e-4)

    class NoRate:
        __slots__ = ("stop_training", "optimizer")

        def __init__(self):
            self.stop_training, self.optimizer = False, object()

    with pytest.raises(ValueError, match=r'Optimizer must have a "learning_rate" attribute.'):
        CallbackList([ReduceLROnPlateau()], model=NoRate()).on_epoch_end(0, {"val_loss": 1.0})
    with pytest.raises(ValueError, match=r'Optimizer must have a "learning_rate" attribute.'):
        CallbackList([LearningRateScheduler(lambda e, lr: lr)], model=NoRate()).on_epoch_begin(0)
    with pytest.raises(
        TypeError,
        match=r"LearningRateScheduler: expected a callable schedule\(epoch, lr\) -> new lr. "
        r"Received: schedule=0.1",
    ):
        LearningRateScheduler(0.1)
    for bad in ("0.1", None, True, [0.1]):
        with pytest.raises(
            ValueError,
            match=r"LearningRateScheduler: the output of the `schedule` function should be a "
            rf"float. Received: {bad!r}.* at epoch 0".replace("[", r"\[").replace("]", r"\]"),
        ):
            fit(FakeModel(), [LearningRateScheduler(lambda e, lr, bad=bad: bad)], losses_logs([1.0]))
    with pytest.raises(
        ValueError,
        match=r"CSVLogger: the `separator` argument must be a single character. Received: separator=';;'",
    ):
        CSVLogger(tmp_path / "x.csv", separator=";;")
