"""Optimizer updates, one pass per variable: the weight decay and the rule's arithmetic for
each element, reading the gradient once and updating the weight and the optimizer's slots
in place.

Every array is flat (1-D, C-contiguous) and of the variable's dtype: ``value`` the weight,
``grad`` its gradient (read only), the slots (momentum, velocity, ...) the optimizer's own.
Scalars arrive in that dtype. The operations are NumPy's in ``convolve/optimizers/*.py``,
in the same order, so the results are identical (Numba compiles without fastmath: no
fused multiply-adds, no reordering). Each kernel updates the items ``[start, stop)``, looping
from 0 over the slices ``[start:stop]`` (see ``elementwise.py``: that loop vectorizes).

Every kernel's last arguments are ``decay, weight_decay, lr, start, stop``. Weight decay
(``decay`` true), before the rule, as in ``Optimizer.apply``:

    w = w - (w * weight_decay) * lr
"""
from __future__ import annotations

import math

from ._compile import kernel


@kernel(inline="always")
def _decayed(w, decay, weight_decay, lr):
    """w after the weight decay (w itself when ``decay`` is false)."""
    return w - (w * weight_decay) * lr if decay else w


@kernel(inline="always")
def _nan_maximum(a, b):
    """numpy.maximum of two numbers: NaN when either is NaN."""
    if a != a or b != b:
        return a + b
    return a if a >= b else b


@kernel
def sgd(value, grad, momentum_slot, momentum, nesterov, decay, weight_decay, lr, start, stop):
    """SGD (Keras): without momentum (momentum == 0; momentum_slot unused) w -= lr * g; else

        m = momentum * m - lr * g;   w += m,   or with nesterov  w += momentum * m - lr * g
    """
    value, grad, momentum_slot = value[start:stop], grad[start:stop], momentum_slot[start:stop]
    for i in range(value.shape[0]):
        w = _decayed(value[i], decay, weight_decay, lr)
        step = grad[i] * lr
        if momentum == 0:
            value[i] = w - step
            continue
        m = momentum_slot[i] * momentum - step
        momentum_slot[i] = m
        value[i] = w + (m * momentum - step if nesterov else m)


@kernel
def adam(value, grad, m_slot, v_slot, v_hat_slot, amsgrad, one_minus_beta_1, one_minus_beta_2, alpha,
         epsilon, decay, weight_decay, lr, start, stop):
    """Adam (Keras), alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) computed by the caller:

        m += (g - m) * (1 - beta_1);   v += (g*g - v) * (1 - beta_2)
        v_hat = maximum(v_hat, v) and used for v below    (amsgrad only; else v_hat_slot unused)
        w -= (m * alpha) / (sqrt(v) + epsilon)
    """
    value, grad, m_slot, v_slot = value[start:stop], grad[start:stop], m_slot[start:stop], v_slot[start:stop]
    v_hat_slot = v_hat_slot[start:stop]
    if amsgrad:  # two loops: a store to v_hat inside a branch would keep the loop from vectorizing
        for i in range(value.shape[0]):
            m, v = _adam_moments(grad[i], m_slot[i], v_slot[i], one_minus_beta_1, one_minus_beta_2)
            m_slot[i], v_slot[i] = m, v
            v_hat_slot[i] = v = _nan_maximum(v_hat_slot[i], v)
            value[i] = _decayed(value[i], decay, weight_decay, lr) - (m * alpha) / (math.sqrt(v) + epsilon)
        return
    for i in range(value.shape[0]):
        m, v = _adam_moments(grad[i], m_slot[i], v_slot[i], one_minus_beta_1, one_minus_beta_2)
        m_slot[i], v_slot[i] = m, v
        value[i] = _decayed(value[i], decay, weight_decay, lr) - (m * alpha) / (math.sqrt(v) + epsilon)


@kernel(inline="always")
def _adam_moments(g, m, v, one_minus_beta_1, one_minus_beta_2):
    """Adam's new (m, v) for one element."""
    return m + (g - m) * one_minus_beta_1, v + (g * g - v) * one_minus_beta_2


@kernel
def rmsprop(value, grad, v_slot, momentum_slot, average_slot, rho, one_minus_rho, momentum, centered,
            epsilon, decay, weight_decay, lr, start, stop):
    """RMSprop (Keras):

        v = v * rho + (g*g) * (1 - rho)
        a = a * rho + g * (1 - rho);  denominator = (v - a*a) + epsilon      (centered)
        denominator = v + epsilon                                            (otherwise)
        increment = (g * lr) / sqrt(denominator)
        mom = mom * momentum + increment;  w -= mom     (momentum > 0; else w -= increment)

    momentum_slot and average_slot are unused when momentum == 0 and not centered.
    """
    value, grad, v_slot = value[start:stop], grad[start:stop], v_slot[start:stop]
    momentum_slot, average_slot = momentum_slot[start:stop], average_slot[start:stop]
    for i in range(value.shape[0]):
        w = _decayed(value[i], decay, weight_decay, lr)
        g = grad[i]
        v = v_slot[i] * rho + (g * g) * one_minus_rho
        v_slot[i] = v
        if centered:
            a = average_slot[i] * rho + g * one_minus_rho
            average_slot[i] = a
            denominator = (v - a * a) + epsilon
        else:
            denominator = v + epsilon
        increment = (g * lr) / math.sqrt(denominator)
        if momentum > 0:
            mom = momentum_slot[i] * momentum + increment
            momentum_slot[i] = mom
            value[i] = w - mom
        else:
            value[i] = w - increment


@kernel
def adagrad(value, grad, accumulator, epsilon, decay, weight_decay, lr, start, stop):
    """Adagrad (Keras): acc += g*g;  w -= (g * lr) / sqrt(acc + epsilon)."""
    value, grad, accumulator = value[start:stop], grad[start:stop], accumulator[start:stop]
    for i in range(value.shape[0]):
        w = _decayed(value[i], decay, weight_decay, lr)
        g = grad[i]
        acc = accumulator[i] + g * g
        accumulator[i] = acc
        value[i] = w - (g * lr) / math.sqrt(acc + epsilon)
