"""Optimizer: the part every update rule shares (Keras 3's ``BaseOptimizer``).

One ``apply(grads, trainable_variables)`` call, in Keras' order:

1. drop the (gradient, variable) pairs whose gradient is None;
2. clip the gradients (``clipnorm`` per variable, ``global_clipnorm`` over all of them,
   or ``clipvalue`` elementwise; at most one of the three);
3. decay the weights, ``w -= w * weight_decay * lr`` (when ``weight_decay`` is set);
4. run the subclass's update rule on each variable, in place;
5. ``iterations += 1``.

The learning rate used by steps 3 and 4 is ``learning_rate`` read before step 5: a
schedule is evaluated at the number of updates already applied (0 for the first).

Per-variable state ("slots": Adam's momentum and velocity, ...) is created on a
variable's first update, with the variable's shape and dtype, and kept under the
variable's ``path``. ``state()`` returns everything needed to resume bit for bit
and ``set_state()`` puts it back.

Updates are in place and allocate nothing per step: the rules write their
temporaries into a workspace of three flat buffers per dtype, sized to the largest
variable and reused for every variable and step. Those NumPy steps are the reference:
with the compiled kernels active (``convolve.config``), steps 3 and 4 are one pass per
variable (``ops/kernels/optimizers.py``: each element's weight decay and update, reading
the gradient once), with the same operations in the same order, so the same numbers.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import numpy as np

from ..backend import get_array_module
from ..ops import kernels
from . import schedules
from ._checks import check_float, check_name

#: the state entries that are not slots
ITERATIONS = "iterations"
LEARNING_RATE = "learning_rate"

#: Keras 3 config keys for features convolve does not have: accepted by from_config
#: when the feature is off (a falsy value); the EMA settings are read only with use_ema
_KERAS_ONLY_KEYS = ("use_ema", "loss_scale_factor", "gradient_accumulation_steps")
_KERAS_IGNORED_KEYS = ("ema_momentum", "ema_overwrite_frequency")


def _check_learning_rate(value, where):
    if isinstance(value, schedules.LearningRateSchedule):
        return value
    try:
        return check_float(value, "learning_rate", where, low=0)
    except TypeError:
        raise TypeError(
            f"{where}: the `learning_rate` argument must be a non-negative float or a LearningRateSchedule. "
            f"Received: learning_rate={value!r}"
        ) from None


class Optimizer:
    """Base class. A subclass sets ``_default_name``, declares its slots in
    ``_slot_specs()`` and writes its rule in ``_update``."""

    _default_name = "optimizer"

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        where = type(self).__name__
        self._learning_rate = _check_learning_rate(learning_rate, where)
        self.weight_decay = check_float(weight_decay, "weight_decay", where, low=0, allow_none=True)
        self.clipnorm = check_float(clipnorm, "clipnorm", where, low=0, low_open=True, allow_none=True)
        self.clipvalue = check_float(clipvalue, "clipvalue", where, low=0, low_open=True, allow_none=True)
        self.global_clipnorm = check_float(global_clipnorm, "global_clipnorm", where, low=0, low_open=True,
                                           allow_none=True)
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{where}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}"
            )
        self.name = check_name(name, self._default_name, where)
        self._iterations = 0
        self._slots: dict = {}  # variable path -> {slot name: array}
        self._variables = None  # the list the optimizer was built with (for apply(grads) alone)
        self._work: dict = {}  # (array module, dtype) -> (3, capacity) scratch buffer

    # ---- what a subclass provides ---------------------------------------------------------
    def _slot_specs(self) -> tuple:
        """(slot name, initial value) pairs, one array of each per variable."""
        return ()

    def _update(self, grad, value, slots, lr, t0, t1):
        """Update ``value`` in place from ``grad`` (read only). ``slots`` maps slot names
        to arrays shaped like ``value``; ``t0`` and ``t1`` are scratch arrays of that shape."""
        raise NotImplementedError(f"{type(self).__name__} must implement `_update`.")

    def _kernel(self, compiled, slots, dt, lr):
        """The rule's kernel in ``compiled`` (``ops/kernels/optimizers.py``) and its arguments between
        the gradient and the weight decay's: the slots (flat) and the hyperparameters in the dtype
        ``dt``; None for a rule without one (it then always runs its NumPy steps)."""
        return None

    def _update_compiled(self, grad, value, slots, lr) -> bool:
        """The weight decay and ``_update`` in one compiled pass where the kernels run on these
        arrays: True when done, False (nothing changed) otherwise, and then the NumPy steps run.

        The kernel gets flat views (the weight and the slots are updated through them), and
        the gradient, read only, C-contiguous in the weight's dtype. Not when the kernels are
        not active, for arrays that are not NumPy's, dtypes they are not compiled for, strided
        weights or slots, or a gradient sharing the weight's memory (as NumPy's steps, that
        case needs the copy ``_clip`` makes with weight decay).
        """
        if type(self)._kernel is Optimizer._kernel or not isinstance(grad, np.ndarray):
            return False
        if not kernels.enabled(value, *slots.values()) or np.may_share_memory(grad, value):
            return False
        from ..ops.kernels import optimizers as compiled  # here: the first call imports Numba

        dt = value.dtype.type
        g = np.ascontiguousarray(grad, dtype=value.dtype)  # grad itself unless strided or cast
        kernel, arguments = self._kernel(compiled, {name: a.reshape(-1) for name, a in slots.items()}, dt, lr)
        decay = self.weight_decay is not None
        kernels.run(
            kernel, value.size, value.reshape(-1), g.reshape(-1), *arguments, decay,
            dt(self.weight_decay if decay else 0.0), dt(lr),
        )
        return True

    @staticmethod
    def _unused(dt):
        """An empty array of dtype ``dt``, for a kernel's slot this configuration lacks (never
        read or written; a real array there could alias another and keep the loop from vectorizing)."""
        return np.empty(0, dtype=dt)

    # ---- the step counter and the learning rate -------------------------------------------
    @property
    def where(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    @property
    def iterations(self) -> int:
        """The number of updates applied so far."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(
                f"{self.where}: `iterations` must be a non-negative integer. Received: iterations={value!r}"
            )
        self._iterations = int(value)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update: the float, or the schedule at ``iterations``."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self._iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                f"{self.where} was created with a LearningRateSchedule as its `learning_rate`, so its "
                "learning rate cannot be set to a number; create the optimizer with a float learning rate to "
                f"set it. Received: learning_rate={value!r}"
            )
        self._learning_rate = _check_learning_rate(value, self.where)

    # ---- building ---------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self._variables is not None

    def build(self, variables) -> None:
        """Create the slots of ``variables`` now (``apply`` does it on first use)."""
        variables = list(variables)
        for i, variable in enumerate(variables):
            self._slots_of(variable, self._value_of(variable, i, "variables"))
        if self._variables is None:
            self._variables = variables

    def _value_of(self, variable, index, argument):
        value = getattr(variable, "value", None)
        if (
            not isinstance(getattr(variable, "path", None), str)
            or not hasattr(value, "dtype")
            or not hasattr(value, "shape")
        ):
            raise TypeError(
                f"{self.where}: expected convolve Variables (with an array `.value` and a `.path`). "
                f"Received: {argument}[{index}]={variable!r}"
            )
        if value.dtype.kind != "f":
            raise TypeError(
                f"{self.where}: can only update floating-point variables. "
                f"Received: variable '{variable.path}' with dtype={value.dtype}"
            )
        if not getattr(value.flags, "writeable", True):
            raise ValueError(
                f"{self.where}: the optimizer updates variables in place, so their arrays must be writeable. "
                f"Received: variable '{variable.path}' with a read-only array"
            )
        return value

    def _slots_of(self, variable, value) -> dict:
        slots = self._slots.get(variable.path)
        if slots is None:
            xp = get_array_module(value)
            slots = {name: xp.full(value.shape, init, dtype=value.dtype) for name, init in self._slot_specs()}
            self._slots[variable.path] = slots
            return slots
        for name, array in slots.items():
            if array.shape != value.shape:
                raise ValueError(
                    f"{self.where}: the '{name}' slot kept for '{variable.path}' has shape {array.shape}, "
                    "but the variable has another shape (is the state from another model, or do two "
                    f"variables share a path?). Received: variable '{variable.path}' with shape {value.shape}"
                )
            if array.dtype != value.dtype:  # a state restored in another dtype
                slots[name] = array.astype(value.dtype)
        return slots

    def _workspace(self, value):
        """Three scratch arrays shaped like ``value``: views of one reused buffer."""
        xp = get_array_module(value)
        key = (xp.__name__, value.dtype.str)
        buffer = self._work.get(key)
        n = value.size
        if buffer is None or buffer.shape[1] < n:
            buffer = self._work[key] = xp.empty((3, n), dtype=value.dtype)
        return tuple(buffer[i, :n].reshape(value.shape) for i in range(3))

    # ---- applying gradients ------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """``apply`` for a list of (gradient, variable) pairs; returns ``iterations``."""
        try:
            pairs = [tuple(pair) for pair in grads_and_vars]
        except TypeError:
            pairs = None
        if pairs is None or any(len(pair) != 2 for pair in pairs):
            raise TypeError(
                f"{self.where}: apply_gradients expects a list of (gradient, variable) pairs. "
                f"Received: grads_and_vars={grads_and_vars!r}"
            )
        if pairs:
            self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    def apply(self, grads, trainable_variables=None) -> None:
        """Update each variable in place from its gradient (same order); None gradients
        are skipped. Without ``trainable_variables``, the variables the optimizer was
        built with (by ``build`` or the first ``apply``) are used."""
        where = self.where
        grads = list(grads)
        if trainable_variables is None:
            if self._variables is None:
                raise ValueError(
                    f"{where}: pass the variables with the gradients the first time, or call "
                    "`optimizer.build(variables)` first. Received: trainable_variables=None"
                )
            variables = self._variables
        else:
            variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{where}: expected one gradient per variable ({len(variables)}). "
                f"Received: {len(grads)} gradients for {len(variables)} variables"
            )
        if not grads:
            return
        todo, paths = [], set()
        for i, (grad, variable) in enumerate(zip(grads, variables)):
            value = self._value_of(variable, i, "trainable_variables")
            if variable.path in paths:
                raise ValueError(
                    f"{where}: each variable must have its own path; the optimizer keeps its state by path. "
                    f"Received: two variables with path '{variable.path}'"
                )
            paths.add(variable.path)
            if grad is not None:
                todo.append((self._check_gradient(grad, variable, value, i), variable, value))
        if not todo:
            raise ValueError(
                f"{where}: no gradients provided for any variable. "
                f"Received: grads=None for every variable {[v.path for v in variables]}"
            )
        slots = [self._slots_of(variable, value) for _, variable, value in todo]
        if self._variables is None:
            self._variables = variables

        lr = self.learning_rate
        scale = self._global_scale([g for g, _, _ in todo]) if self.global_clipnorm is not None else None
        for (grad, _, value), var_slots in zip(todo, slots):
            xp = get_array_module(value)
            g_buf, t0, t1 = self._workspace(value)
            grad = self._clip(grad, value, g_buf, scale, xp)
            if self._update_compiled(grad, value, var_slots, lr):
                continue
            if self.weight_decay is not None:
                # Keras: w = w - w * weight_decay * lr
                xp.multiply(value, self.weight_decay, out=t0)
                xp.multiply(t0, lr, out=t0)
                xp.subtract(value, t0, out=value)
            self._update(grad, value, var_slots, lr, t0, t1)
        self._iterations += 1

    def _check_gradient(self, grad, variable, value, index):
        xp = get_array_module(value)
        array = grad
        if not isinstance(array, xp.ndarray):
            try:
                array = xp.asarray(grad)
            except (TypeError, ValueError):  # ragged lists and the like
                array = None
        if array is None or array.dtype.kind not in "biuf":
            raise TypeError(
                f"{self.where}: the gradient for '{variable.path}' must be a numeric array. "
                f"Received: grads[{index}] of type {type(grad).__name__}"
                + ("" if array is None else f" with dtype={array.dtype}")
            )
        if array.shape != value.shape:
            raise ValueError(
                f"{self.where}: the gradient for '{variable.path}' must have the variable's shape "
                f"{value.shape}. Received: grads[{index}] with shape {array.shape}"
            )
        return array

    @staticmethod
    def _sum_of_squares(grad) -> float:
        flat = grad.reshape(-1)
        return (
            float(flat @ flat) if grad.dtype.kind == "f" else float(np.sum(np.square(flat, dtype=np.float64)))
        )

    def _global_scale(self, grads) -> float:
        """Keras' clip_by_global_norm factor: clip * min(1 / norm, 1 / clip), NaN for a non-finite norm."""
        norm = math.sqrt(sum(self._sum_of_squares(g) for g in grads))
        clip = self.global_clipnorm
        inverse = math.inf if norm == 0 else 1.0 / norm
        return clip * min(inverse, 1.0 / clip) + (norm - norm if math.isfinite(norm) else math.nan)

    def _clip(self, grad, value, g_buf, scale, xp):
        """The gradient to use: ``grad`` itself, or its clipped / dtype-cast copy in ``g_buf``."""
        if self.clipnorm is not None:
            # Keras: g * clipnorm / max(||g||, clipnorm)
            norm = math.sqrt(self._sum_of_squares(grad))
            xp.multiply(grad, self.clipnorm, out=g_buf, casting="unsafe")
            xp.divide(g_buf, max(norm, self.clipnorm), out=g_buf)
            return g_buf
        if scale is not None:
            xp.multiply(grad, scale, out=g_buf, casting="unsafe")
            return g_buf
        if self.clipvalue is not None:
            xp.clip(grad, -self.clipvalue, self.clipvalue, out=g_buf, casting="unsafe")
            return g_buf
        if grad.dtype != value.dtype or (self.weight_decay is not None and xp.may_share_memory(grad, value)):
            # a cast, or a gradient that the weight decay would change before it is read
            xp.copyto(g_buf, grad, casting="unsafe")
            return g_buf
        return grad

    # ---- configuration -------------------------------------------------------------------------
    def get_config(self) -> dict:
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(self._learning_rate)
        else:
            learning_rate = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config):
        """An optimizer (without state) from ``get_config()``'s output, or from a Keras 3
        optimizer config, whose EMA / loss-scale / accumulation keys must be off."""
        config = dict(config)
        for key in _KERAS_IGNORED_KEYS:
            config.pop(key, None)
        for key in _KERAS_ONLY_KEYS:
            value = config.pop(key, None)
            if value:
                raise ValueError(
                    f"{cls.__name__}.from_config: convolve optimizers do not support `{key}`; it must be "
                    f"off (False or None). Received: {key}={value!r}"
                )
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - accepted)
        if unknown:
            raise ValueError(
                f"{cls.__name__}.from_config: unknown config keys {unknown}. Expected keys among "
                f"{sorted(accepted)}. Received: config={config!r}"
            )
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    # ---- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to resume exactly, as name -> array (copies):
        'iterations', 'learning_rate' (unless a schedule sets it, which the config holds),
        and '<variable path>/<slot name>' for every slot."""
        out = {ITERATIONS: np.asarray(self._iterations, dtype=np.int64)}
        if not isinstance(self._learning_rate, schedules.LearningRateSchedule):
            out[LEARNING_RATE] = np.asarray(self._learning_rate, dtype=np.float64)
        for path, slots in self._slots.items():
            for name, array in slots.items():
                out[f"{path}/{name}"] = array.copy()
        return out

    def set_state(self, state) -> None:
        """Restore what ``state()`` returned. Checks everything before changing anything:
        no entry may be missing or unexpected, and shapes must match the slots already
        built (an optimizer that has not run yet takes the slots as they come)."""
        where = f"{self.where}.set_state"
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{where}: expected a dict of name -> array, as state() returns. "
                f"Received: {type(state).__name__}"
            )
        has_schedule = isinstance(self._learning_rate, schedules.LearningRateSchedule)
        fixed = [ITERATIONS] if has_schedule else [ITERATIONS, LEARNING_RATE]
        missing = [key for key in fixed if key not in state]
        if missing:
            raise ValueError(f"{where}: missing entries {missing}. Received: entries {sorted(state)}")
        if has_schedule and LEARNING_RATE in state:
            raise ValueError(
                f"{where}: this optimizer's learning rate is a schedule, so the state must not hold one. "
                "Received: an entry 'learning_rate'"
            )
        iterations = np.asarray(state[ITERATIONS])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise ValueError(
                f"{where}: 'iterations' must be a non-negative integer scalar. "
                f"Received: iterations={state[ITERATIONS]!r}"
            )
        learning_rate = None
        if not has_schedule:
            lr = np.asarray(state[LEARNING_RATE])
            if lr.shape != () or lr.dtype.kind not in "iuf" or not np.isfinite(lr) or lr < 0:
                raise ValueError(
                    f"{where}: 'learning_rate' must be a non-negative float scalar. "
                    f"Received: learning_rate={state[LEARNING_RATE]!r}"
                )
            learning_rate = float(lr)

        slot_names = [name for name, _ in self._slot_specs()]
        given: dict = {}  # path -> {slot name: array}
        unexpected = []
        for key, array in state.items():
            if key in fixed:
                continue
            path, _, name = key.rpartition("/")
            if not path or name not in slot_names:
                unexpected.append(key)
                continue
            given.setdefault(path, {})[name] = array
        if unexpected:
            raise ValueError(
                f"{where}: unexpected entries {sorted(unexpected)}; this optimizer's entries are "
                f"{fixed} and '<variable path>/<slot>' with slots {slot_names}. "
                f"Received: entries {sorted(state)}"
            )
        if self._slots:
            expected = {f"{p}/{n}" for p, slots in self._slots.items() for n in slots}
        else:
            expected = {f"{p}/{n}" for p in given for n in slot_names}
        present = {f"{p}/{n}" for p, slots in given.items() for n in slots}
        if expected - present:
            raise ValueError(
                f"{where}: missing entries {sorted(expected - present)}. Received: entries {sorted(state)}"
            )
        if present - expected:
            raise ValueError(
                f"{where}: unexpected entries {sorted(present - expected)}: the optimizer has no such "
                f"variables. Received: entries {sorted(state)}"
            )
        arrays = {}
        for path, slots in given.items():
            for name, array in slots.items():
                key = f"{path}/{name}"
                current = self._slots.get(path, {}).get(name)
                xp = get_array_module(current) if current is not None else get_array_module(array)
                array = array if isinstance(array, xp.ndarray) else xp.asarray(array)
                if array.dtype.kind not in "iuf":
                    raise TypeError(
                        f"{where}: entry '{key}' must be a numeric array. Received: dtype={array.dtype}"
                    )
                if current is not None and array.shape != current.shape:
                    raise ValueError(
                        f"{where}: entry '{key}' must have shape {current.shape}. "
                        f"Received: an array of shape {array.shape}"
                    )
                arrays[key] = array

        # everything checked: now change the optimizer
        self._iterations = int(iterations)
        if learning_rate is not None:
            self._learning_rate = learning_rate
        for path, slots in given.items():
            target = self._slots.setdefault(path, {})
            for name in slots:
                array = arrays[f"{path}/{name}"]
                if name in target:
                    get_array_module(target[name]).copyto(target[name], array, casting="unsafe")
                else:
                    dtype = array.dtype if array.dtype.kind == "f" else np.float32
                    target[name] = get_array_module(array).array(array, dtype=dtype, copy=True)

    def __repr__(self) -> str:
        lr = self._learning_rate
        return (
            f"<{type(self).__name__} name={self.name!r} learning_rate={lr!r} iterations={self._iterations}>"
        )
