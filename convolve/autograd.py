"""Reverse-mode automatic differentiation over a recorded tape, for the coarse ops.

Outside a :class:`GradientTape` nothing is recorded: every function here computes with
plain arrays and returns a plain array, so inference keeps no activations alive. Inside

    with GradientTape() as tape:
        y = model(x, training=True)        # layers call the functions below
    grads = tape.gradient(y, variables, output_gradient=dloss_dy)

each op returns a :class:`Tensor` that remembers its inputs and a closure computing its
vector-Jacobian product from ``convolve.ops`` (e.g. ``conv_backward``). ``gradient`` walks
the recorded graph once, in reverse topological order.

A layer's weights are :class:`convolve.variables.Variable` objects; the tape turns each
into one leaf the first time an op uses it, so a weight used twice gets both gradients.

Plain arrays are constants. To differentiate with respect to an input array (saliency maps,
adversarial examples), watch it, as in TensorFlow:

    with GradientTape() as tape:
        xt = tape.watch(x)                 # the leaf Tensor standing for the array x
        y = model(xt)                      # recorded from the input on
    (dx,) = tape.gradient(y, [xt])         # or [x]: a watched array names its leaf

``watch`` returns a leaf :class:`Tensor` (TensorFlow marks ``x`` itself; a NumPy array cannot
record, so here the returned Tensor is what the ops must be given). Watching the same array
again returns the same leaf. The array is never written to: the leaf holds a read-only view
of it. ``GradientTape(watch_accessed_variables=False)`` (TensorFlow's argument) leaves the
trainable Variables out, so they are constants and their gradients are never computed
(attribution needs only the input's); ``watch(variable)`` then adds one back.

Which tape is recording is per thread (and per asyncio task): it lives in a
``contextvars.ContextVar``, so one thread training a model never records another thread's
``predict``, and two threads can each train their own model at the same time.
"""
from __future__ import annotations

import contextvars
import sys
from contextlib import contextmanager

import numpy as np

from .ops import activations as act_ops
from .ops import core as core_ops
from .ops import dropout as dropout_ops
from .ops import normalization as norm_ops
from .ops import pooling as pool_ops
from .ops import reshaping as reshape_ops
from .variables import Variable

# ``convolve.ops.conv`` the attribute is the conv function (re-exported); take the module itself
conv_ops = sys.modules[__package__ + ".ops.conv"]

#: the GradientTape recording in this thread (or asyncio task), or None
_active_tape: contextvars.ContextVar = contextvars.ContextVar("convolve_gradient_tape", default=None)


class Tensor:
    """A recorded value: ``value`` (an array), the tensors it came from, and its backward.

    ``backward(grad, needs)`` returns one gradient per parent (None where ``needs`` is
    False). ``op`` names the function that made it (the training loop looks for
    'softmax' to fuse it with a cross-entropy loss).
    """

    __slots__ = ("value", "parents", "backward", "op", "__weakref__")

    def __init__(self, value, parents=(), backward=None, op="leaf"):
        self.value = value
        self.parents = parents
        self.backward = backward
        self.op = op

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self):
        return f"<Tensor op={self.op}, shape={self.shape}, dtype={self.dtype}>"


class GradientTape:
    """Records the ops run inside ``with GradientTape() as tape:``; then :meth:`gradient`.

    As in Keras (TensorFlow's tape), a tape is non-persistent by default: :meth:`gradient`
    may be called once, and it lets go of each op's saved arrays as soon as that op's
    backward has run, so the activations of the early layers are freed while the later
    gradients are computed (lower peak memory). ``persistent=True`` keeps the whole graph
    for several ``gradient`` calls.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        flags = {"persistent": persistent, "watch_accessed_variables": watch_accessed_variables}
        for name, flag in flags.items():
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(
                    f"GradientTape: the `{name}` argument must be True or False. Received: {name}={flag!r}"
                )
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._used = False
        self._leaves: dict[int, tuple[Variable, Tensor]] = {}
        #: id(array) -> (array, its leaf); holding the array keeps its id from being reused
        self._watched: dict[int, tuple[object, Tensor]] = {}

    def __enter__(self):
        if _active_tape.get() is not None:
            raise RuntimeError("GradientTape: tapes do not nest; finish the outer one first.")
        self._token = _active_tape.set(self)
        return self

    def __exit__(self, *exc):
        _active_tape.reset(self._token)
        return False

    def leaf(self, variable: Variable) -> Tensor | None:
        """The leaf tensor standing for ``variable``; None (a constant) when it is not trainable
        or the tape does not watch accessed variables, unless it was watched."""
        entry = self._leaves.get(id(variable))
        if entry is None:
            if not (variable.trainable and self.watch_accessed_variables):
                return None
            entry = self._leaves[id(variable)] = (variable, Tensor(variable.value))
        return entry[1]

    def watch(self, x) -> Tensor:
        """The leaf Tensor for ``x``, a floating-point array (or a Variable): ops given this
        Tensor record, so ``gradient(target, [it])`` (or ``[x]``) is dtarget/dx.

        Call it inside ``with tape:``. Watching the same array (or Variable) again returns the
        same leaf; a recorded Tensor is returned as it is. The leaf holds a read-only view of
        the array, so nothing recorded can write to ``x``.
        """
        if _active_tape.get() is not self:
            raise RuntimeError(
                "GradientTape.watch: call it inside `with tape:` (ops record only while their tape "
                "is recording in this thread). Received: a tape that is not recording here"
            )
        if isinstance(x, Tensor):
            return x
        if isinstance(x, Variable):
            entry = self._leaves.get(id(x))
            if entry is None:
                entry = self._leaves[id(x)] = (x, Tensor(x.value))
            return entry[1]
        dtype = getattr(x, "dtype", None)
        if not hasattr(x, "shape") or dtype is None or np.dtype(dtype).kind != "f":
            what = f"dtype {dtype}" if dtype is not None else f"a {type(x).__name__}"
            raise TypeError(
                "GradientTape.watch: expected a floating-point array (or a Variable); cast integer "
                f"data to float first. Received: {what}"
            )
        entry = self._watched.get(id(x))
        if entry is None:
            view = x.view()
            if isinstance(view, np.ndarray):
                view.flags.writeable = False
            entry = self._watched[id(x)] = (x, Tensor(view))
        return entry[1]

    def gradient(self, target: Tensor, sources, output_gradient=None):
        """dtarget/dsource for each source (a Variable, a Tensor or a watched array); None where
        unconnected.

        ``output_gradient`` is dL/dtarget (default: ones, i.e. the gradient of sum(target)).
        """
        if not isinstance(target, Tensor):
            raise TypeError(
                "GradientTape.gradient: the target must be a recorded Tensor. "
                f"Received: {type(target).__name__}"
            )
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient: a non-persistent GradientTape can compute gradients only once; "
                "use GradientTape(persistent=True) to call gradient() several times. Received: a second call"
            )
        tensors = [self._source(s) for s in sources]  # checked before the graph is consumed
        self._used = True
        order = _topological_order(target)  # parents before children; the target last
        grads = {id(target): np.ones_like(target.value) if output_gradient is None else output_gradient}
        wanted = {id(t) for t in order}
        keep = {id(t) for t in tensors if t is not None}  # an intermediate source keeps its gradient
        while order:
            node = order.pop()  # reverse topological order, and the list no longer holds it
            keep_g = node.backward is None or id(node) in keep
            g = grads.get(id(node)) if keep_g else grads.pop(id(node), None)
            if g is None or node.backward is None:
                continue
            needs = tuple(p is not None and id(p) in wanted for p in node.parents)
            for parent, pg in zip(node.parents, node.backward(g, needs)):
                if parent is None or pg is None:
                    continue
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            del g
            if not self.persistent:
                # this op's backward is done: drop the arrays its closure saved and the links
                # to its inputs, so the inputs' values are freed once nothing else needs them
                node.backward, node.parents = None, ()
        return [None if t is None else grads.get(id(t)) for t in tensors]

    def _source(self, source) -> Tensor | None:
        """The Tensor whose gradient ``gradient`` returns for a source (None: never a leaf)."""
        if isinstance(source, Tensor):
            return source
        if isinstance(source, Variable):
            return self._leaves.get(id(source), (None, None))[1]
        entry = self._watched.get(id(source))
        if entry is None or entry[0] is not source:
            raise TypeError(
                "GradientTape.gradient: each source must be a Variable, a Tensor or an array this tape "
                "watches (tape.watch(x)); a plain array is a constant. "
                f"Received: {type(source).__name__}{getattr(source, 'shape', '')}"
            )
        return entry[1]


def _topological_order(root: Tensor) -> list:
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            if p is not None and id(p) not in seen:
                stack.append((p, False))
    return order


def is_recording() -> bool:
    return _active_tape.get() is not None


@contextmanager
def no_record():
    """Compute without recording even inside a tape (e.g. metrics during training)."""
    token = _active_tape.set(None)
    try:
        yield
    finally:
        _active_tape.reset(token)


def value(x):
    """The array behind a Tensor, a Variable or an array."""
    if isinstance(x, (Tensor, Variable)):
        return x.value
    return x


def _node(x):
    """What the graph links to for an op input: a Tensor, a Variable's leaf, or None (a constant)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Variable):
        return _active_tape.get().leaf(x)
    return None


def record(result, inputs, backward, op):
    """Wrap an op's result for the tape. ``backward(g, needs)`` -> one gradient per input."""
    if _active_tape.get() is None:
        return result
    parents = tuple(_node(i) for i in inputs)
    if all(p is None for p in parents):
        return result
    return Tensor(result, parents, backward, op)


# --- the ops, each a forward call and its vector-Jacobian product ------------------------


def conv(x, kernel, bias=None, activation=None, **kw):
    """``ops.conv.conv`` recorded; backward by ``ops.conv.conv_backward``.

    ``activation`` ('relu', 'linear' or None) is fused into the convolution (ops/conv/epilogue.py):
    the op records y = relu(conv + bias), and its backward hands g and y to conv_backward, which
    multiplies g by relu'(y) (y > 0) in the same pass that sums the bias gradient.
    """
    xv, kv = value(x), value(kernel)
    y = conv_ops.conv(xv, kv, value(bias), activation=activation, **kw)
    kw = {k: v for k, v in kw.items() if k != "formulation"}
    fused = activation not in (None, "linear")

    def backward(g, needs):
        gx, gk, gb = conv_ops.conv_backward(
            g, xv, kv, use_bias=bias is not None, need_input_grad=needs[0],
            activation=activation, output=y if fused else None, **kw
        )
        return gx, gk, gb

    return record(y, (x, kernel, bias), backward, f"conv+{activation}" if fused else "conv")


def activation(x, fn, inplace=False, **kw):
    """Apply activation ``fn`` (an ``ops.activations`` function); backward from its table.

    A public ``convolve.activations`` function runs as the op it names (``fn.op``), or, for
    a composition of ops, is called on ``x`` itself and records its own steps.

    ``inplace=True`` is the caller's promise that ``x`` is a fresh intermediate that nothing
    else reads (a layer's own convolution or Dense output, before its activation). The plain
    relu then overwrites it, as PyTorch's ``inplace=True``: no second array is made or kept,
    and the backward reads the output instead (relu(x) > 0 exactly where x > 0).
    """
    fn = getattr(fn, "op", fn)
    if getattr(fn, "records_itself", False):
        return fn(x)
    xv = value(x)
    if inplace and fn is act_ops.relu and not _no_where(kw) and _writable_float(xv):
        y = act_ops.relu(xv, out=xv, **kw)
        if _active_tape.get() is None:
            return y

        def backward_inplace(g, needs):
            return (act_ops.relu_backward(g, y),)

        return record(y, (x,), backward_inplace, "relu")
    y = fn(xv, **kw)
    kw.pop("where", None)
    if _active_tape.get() is None or fn is act_ops.linear:
        return y if fn is not act_ops.linear else x
    entry = act_ops.BACKWARD.get(fn.__name__)
    if entry is None or act_ops.ACTIVATIONS.get(fn.__name__) is not fn:
        raise ValueError(
            f"activation {getattr(fn, '__name__', fn)!r} has no gradient in convolve; use a built-in "
            f"activation ({sorted(act_ops.BACKWARD)}) to train. Received: {fn!r}"
        )
    backward_fn, needs_what = entry

    def backward(g, needs):
        return (backward_fn(g, xv if needs_what == "x" else y, **kw),)

    return record(y, (x,), backward, fn.__name__)


def _writable_float(v):
    return isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.flags.writeable and v.ndim > 0


def is_fresh(result, *inputs) -> bool:
    """True when ``result``'s memory overlaps none of ``inputs`` (Tensors, Variables or
    arrays): a layer checks its op's output this way before an in-place activation."""
    r = value(result)
    return isinstance(r, np.ndarray) and not any(
        isinstance(value(i), np.ndarray) and np.may_share_memory(r, value(i)) for i in inputs if i is not None
    )


def add(a, b):
    def backward(g, needs):
        return _unbroadcast(g, np.shape(value(a))), _unbroadcast(g, np.shape(value(b)))

    return record(value(a) + value(b), (a, b), backward, "add")


def multiply(a, b):
    av, bv = value(a), value(b)

    def backward(g, needs):
        return (
            _unbroadcast(g * bv, av.shape) if needs[0] else None,
            _unbroadcast(g * av, np.shape(bv)) if needs[1] else None,
        )

    return record(av * bv, (a, b), backward, "multiply")


def dropout(x, noise, rate):
    """``ops.dropout.dropout`` recorded: x times the keep/scale mask that ``noise`` (the layer's
    float32 draws) and ``rate`` give; the backward multiplies by the same mask."""
    y = dropout_ops.dropout(value(x), noise, rate)
    return record(y, (x,), lambda g, needs: (dropout_ops.dropout_backward(g, noise, rate),), "dropout")


def _unbroadcast(g, shape):
    """Sum a broadcast gradient back down to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _no_where(kw):
    return {k: v for k, v in kw.items() if k != "where"}


def dense(x, kernel, bias=None, **kw):
    """x (..., in) @ kernel (in, units) + bias; backward by ``ops.core.dense_backward``."""
    xv, kv = value(x), value(kernel)
    y = core_ops.dense(xv, kv, value(bias), **kw)

    def backward(g, needs):
        gx, gk, gb = core_ops.dense_backward(g, xv, kv, need_x=needs[0])
        return gx, gk, gb if bias is not None else None

    return record(y, (x, kernel, bias), backward, "dense")


def _pool(name, x, pool_size, strides=None, padding="valid", data_format="channels_last", where=None):
    backward_fn = getattr(pool_ops, name + "_backward")
    xv = value(x)
    args = (xv, pool_size, strides, padding, data_format)
    where = {"where": where} if where else {}
    if _active_tape.get() is None:  # nothing to record: the forward alone
        return getattr(pool_ops, name)(*args, **where)
    if name == "max_pool":
        # max needs the values, and the forward's maximum (and the compiled kernel's winners, when
        # it ran) save finding the winners again
        y, winners = pool_ops.max_pool_with_winners(*args, **where)

        def backward(g, needs):
            return (backward_fn(g, xv, pool_size, strides, padding, data_format, y=y, winners=winners),)
    else:  # the average only the shape
        y = pool_ops.average_pool(*args, **where)
        shape = xv.shape

        def backward(g, needs):
            return (backward_fn(g, shape, pool_size, strides, padding, data_format),)
    return record(y, (x,), backward, name)


def max_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", where=None):
    return _pool("max_pool", x, pool_size, strides, padding, data_format, where)


def average_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", where=None):
    return _pool("average_pool", x, pool_size, strides, padding, data_format, where)


def _global_pool(name, x, data_format="channels_last", keepdims=False, where=None):
    forward = getattr(pool_ops, name)
    backward_fn = getattr(pool_ops, name + "_backward")
    xv = value(x)
    y = forward(xv, data_format=data_format, keepdims=keepdims, **({"where": where} if where else {}))
    arg = xv if name == "global_max_pool" else xv.shape
    backward = lambda g, needs: (backward_fn(g, arg, data_format=data_format, keepdims=keepdims),)  # noqa: E731
    return record(y, (x,), backward, name)


def global_max_pool(x, data_format="channels_last", keepdims=False, where=None):
    return _global_pool("global_max_pool", x, data_format, keepdims, where)


def global_average_pool(x, data_format="channels_last", keepdims=False, where=None):
    return _global_pool("global_average_pool", x, data_format, keepdims, where)


def view(x, shape):
    """``x.reshape(shape)`` for any array or tensor (a kernel's layout change, say)."""
    xv = value(x)
    return record(xv.reshape(shape), (x,), lambda g, needs: (g.reshape(xv.shape),), "view")


def batch_norm_train(x, gamma, beta, epsilon, axis):
    """Normalise with the batch's own statistics; returns (y, batch_mean, batch_variance)."""
    xv, gv = value(x), value(gamma)
    y, mean, var = norm_ops.batch_norm_train(xv, gv, value(beta), epsilon=epsilon, axis=axis)

    def backward(g, needs):
        return norm_ops.batch_norm_train_backward(g, xv, gv, mean, var, epsilon=epsilon, axis=axis)

    return record(y, (x, gamma, beta), backward, "batch_norm_train"), mean, var


def batch_norm(x, mean, variance, gamma, beta, epsilon, axis):
    """Normalise with fixed statistics (inference form, or a frozen layer in training)."""
    xv, gv = value(x), value(gamma)
    mv, vv = value(mean), value(variance)
    y = norm_ops.batch_norm(xv, mv, vv, gv, value(beta), epsilon=epsilon, axis=axis)

    def backward(g, needs):
        return norm_ops.batch_norm_backward(g, xv, mv, vv, gv, epsilon=epsilon, axis=axis)

    return record(y, (x, gamma, beta), backward, "batch_norm")


def zero_pad(x, padding, data_format="channels_last", **kw):
    y = reshape_ops.zero_pad(value(x), padding, data_format=data_format, **kw)
    backward = lambda g, needs: (reshape_ops.zero_pad_backward(g, padding, data_format=data_format),)  # noqa: E731
    return record(y, (x,), backward, "zero_pad")


def crop(x, cropping, data_format="channels_last", **kw):
    shape = value(x).shape
    y = reshape_ops.crop(value(x), cropping, data_format=data_format, **kw)
    backward = lambda g, needs: (reshape_ops.crop_backward(g, shape, cropping, data_format=data_format),)  # noqa: E731
    return record(y, (x,), backward, "crop")


def upsample_nearest(x, size, data_format="channels_last", **kw):
    y = reshape_ops.upsample_nearest(value(x), size, data_format=data_format, **kw)
    backward = lambda g, needs: (reshape_ops.upsample_nearest_backward(g, size, data_format=data_format),)  # noqa: E731
    return record(y, (x,), backward, "upsample_nearest")


def flatten(x, data_format="channels_last", **kw):
    shape = value(x).shape
    y = reshape_ops.flatten(value(x), data_format=data_format, **kw)
    backward = lambda g, needs: (reshape_ops.flatten_backward(g, shape, data_format=data_format),)  # noqa: E731
    return record(y, (x,), backward, "flatten")


def reshape(x, target_shape, **kw):
    shape = value(x).shape
    y = reshape_ops.reshape(value(x), target_shape, **kw)
    return record(y, (x,), lambda g, needs: (reshape_ops.reshape_backward(g, shape),), "reshape")


def permute(x, dims, **kw):
    """``ops.reshaping.permute`` recorded; the gradient is grad_y in the inverse order."""
    y = reshape_ops.permute(value(x), dims, **kw)
    return record(y, (x,), lambda g, needs: (reshape_ops.permute_backward(g, dims),), "permute")


def cast(x, dtype):
    """``x`` in ``dtype``; the gradient is cast back to x's dtype."""
    xv = value(x)
    return record(xv.astype(dtype), (x,), lambda g, needs: (g.astype(xv.dtype),), "cast")


def conv_transpose(x, kernel, bias=None, **kw):
    """``ops.conv.conv_transpose`` recorded; backward by ``ops.conv.conv_transpose_backward``."""
    xv, kv = value(x), value(kernel)
    y = conv_ops.conv_transpose(xv, kv, value(bias), **kw)

    def backward(g, needs):
        return conv_ops.conv_transpose_backward(
            g, xv, kv, use_bias=bias is not None, need_input_grad=needs[0], **kw
        )

    return record(y, (x, kernel, bias), backward, "conv_transpose")


# --- merging (convolve.layers.merging): elementwise pairs and concatenation --------------


def subtract(a, b):
    """a - b (broadcasting); the gradient is g for a and -g for b, summed back to each shape."""
    def backward(g, needs):
        return (
            _unbroadcast(g, np.shape(value(a))) if needs[0] else None,
            _unbroadcast(-g, np.shape(value(b))) if needs[1] else None,
        )

    return record(value(a) - value(b), (a, b), backward, "subtract")


def _select(a, b, a_wins, op):
    """max/min of a and b: the gradient goes to whichever input was chosen (to ``a`` on ties)."""
    av, bv = value(a), value(b)
    y = np.where(a_wins, av, bv)

    def backward(g, needs):
        zero = np.zeros((), dtype=g.dtype)
        return (
            _unbroadcast(np.where(a_wins, g, zero), np.shape(av)) if needs[0] else None,
            _unbroadcast(np.where(a_wins, zero, g), np.shape(bv)) if needs[1] else None,
        )

    return record(y, (a, b), backward, op)


def maximum(a, b):
    """Elementwise max; at ties the gradient goes to ``a`` (as TensorFlow's)."""
    return _select(a, b, value(a) >= value(b), "maximum")


def minimum(a, b):
    """Elementwise min; at ties the gradient goes to ``a``."""
    return _select(a, b, value(a) <= value(b), "minimum")


def concatenate(xs, axis=-1):
    """Join ``xs`` along ``axis``; the gradient is split back along the same axis."""
    values = [value(x) for x in xs]
    y = np.concatenate(values, axis=axis)
    ends = np.cumsum([v.shape[axis] for v in values])[:-1]

    def backward(g, needs):
        parts = np.split(g, ends, axis=axis)
        return tuple(p if need else None for p, need in zip(parts, needs))

    return record(y, tuple(xs), backward, "concatenate")
