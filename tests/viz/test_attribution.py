"""convolve.viz.attribution: saliency (vanilla, gradient x input, SmoothGrad, integrated
gradients), Grad-CAM and Grad-CAM++, occlusion, and their pictures.

Checked against central finite differences in float64, against the definitions written out as
loops here, against PyTorch autograd on an equivalent NCHW model with the weights copied
(kernels (kh, kw, in, out) -> (out, in, kh, kw); the flatten read in NHWC order), and against
Captum's Saliency, InputXGradient, IntegratedGradients, LayerGradCam and Occlusion.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from convolve import autograd, viz
from convolve import layers as L
from convolve.layers.base import Layer
from convolve.models import Model, Sequential
from convolve.random import set_random_seed
from convolve.viz import attribution
from tests import helpers
from tests.helpers import assert_close, requires

F64 = {"dtype": "float64"}


def make_model(seed=0, activation="relu", pool="max", data_format="channels_last", size=10):
    """A float64 classifier: conv 'same' -> pool -> conv 'valid' -> flatten -> dense softmax,
    with random biases (so nothing is positively homogeneous)."""
    set_random_seed(seed)
    kw = {"data_format": data_format, **F64}
    shape = (size, size, 2) if data_format == "channels_last" else (2, size, size)
    pooling = L.MaxPooling2D if pool == "max" else L.AveragePooling2D
    return Sequential(
        [
            L.Input(shape, **F64),
            L.Conv2D(4, 3, padding="same", activation=activation, bias_initializer="random_normal", **kw),
            pooling(2, **kw),
            L.Conv2D(5, 3, activation=activation, bias_initializer="random_normal", **kw),
            L.Flatten(**kw),
            L.Dense(3, activation="softmax", bias_initializer="random_normal", **F64),
        ]
    )


def images(n=2, seed=1, shape=(10, 10, 2)):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, *shape))


def logits(model, x):
    """The softmax's input, written out: every layer but the last, then x @ kernel + bias."""
    h = x
    for layer in model.layers[:-1]:
        h = layer(h)
    dense = model.layers[-1]
    return h @ dense.kernel.value + dense.bias.value


def finite_difference(f, x, eps=1e-6):
    """d f / d x for a scalar function f of a float64 array, one central difference per entry."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


# ---- saliency against finite differences and the definitions --------------------------------


@pytest.mark.parametrize("activation, pool", [("relu", "max"), ("tanh", "average")])
def test_vanilla_is_the_gradient_of_the_logit(activation, pool):
    model = make_model(activation=activation, pool=pool)
    x = images()
    classes = np.argmax(model.predict(x, verbose=0), axis=-1)
    got = viz.saliency(model, x)
    for i in range(len(x)):
        expected = finite_difference(lambda v, i=i: logits(model, v[None])[0, classes[i]], x[i])
        assert_close(got[i], expected, rtol=1e-7)
    # one image in, one map out (no batch axis); a given class
    one = viz.saliency(model, x[0], class_index=2)
    expected = finite_difference(lambda v: logits(model, v[None])[0, 2], x[0])
    assert one.shape == x[0].shape
    assert_close(one, expected, rtol=1e-7)


def test_score_output_differentiates_the_probability():
    model = make_model(activation="tanh")
    x = images(1)
    got = viz.saliency(model, x, class_index=1, score="output")
    expected = finite_difference(lambda v: model.predict(v, verbose=0)[0, 1], x)
    assert_close(got, expected, rtol=1e-7)
    assert relative(got, viz.saliency(model, x, class_index=1)) > 0.1  # not the logit's gradient


def relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_a_model_without_softmax_uses_its_output():
    set_random_seed(3)
    model = Sequential([L.Input((5, 5, 1), **F64), L.Conv2D(2, 3, activation="tanh", **F64), L.Flatten(**F64),
                        L.Dense(4, **F64)])
    x = images(1, shape=(5, 5, 1))
    expected = finite_difference(lambda v: model.predict(v, verbose=0)[0, 3], x)
    assert_close(viz.saliency(model, x, class_index=3), expected, rtol=1e-7)
    assert_close(viz.saliency(model, x, class_index=3, score="output"), expected, rtol=1e-7)


def test_gradient_x_input_and_class_index_per_sample():
    model = make_model()
    x = images(3)
    vanilla = viz.saliency(model, x, class_index=[0, 2, 1])
    for i, c in enumerate([0, 2, 1]):
        assert_close(vanilla[i], viz.saliency(model, x[i], class_index=c), rtol=1e-12)
    np.testing.assert_array_equal(
        viz.saliency(model, x, class_index=[0, 2, 1], method="gradient_x_input"), vanilla * x
    )
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    np.testing.assert_array_equal(viz.saliency(model, x), viz.saliency(model, x, class_index=predicted))


def test_smoothgrad_is_the_mean_gradient_at_the_seeded_noisy_copies():
    model = make_model()
    x = images(2)
    got = viz.saliency(model, x, class_index=1, method="smoothgrad", samples=6, noise_level=0.2, seed=42)
    rng = np.random.default_rng(42)  # convolve.random.generator(42): one draw per sample, in order
    for i in range(2):
        std = 0.2 * (x[i].max() - x[i].min())
        noise = rng.normal(0.0, std, size=(6, *x[i].shape))
        grads = [viz.saliency(model, x[i] + noise[k], class_index=1) for k in range(6)]
        assert_close(got[i], np.mean(grads, axis=0), rtol=1e-12)
    # no seed: the global generator, which set_random_seed fixes
    set_random_seed(7)
    first = viz.saliency(model, x, method="smoothgrad", samples=3)
    set_random_seed(7)
    np.testing.assert_array_equal(viz.saliency(model, x, method="smoothgrad", samples=3), first)
    assert relative(viz.saliency(model, x, method="smoothgrad", samples=3), first) > 1e-3
    # no noise: the vanilla gradient
    assert_close(
        viz.saliency(model, x, method="smoothgrad", samples=2, noise_level=0.0), viz.saliency(model, x)
    )


@pytest.mark.parametrize("integration", attribution.INTEGRATIONS)
def test_integrated_gradients_is_the_weighted_sum_written_out(integration):
    model = make_model()
    x = images(1)
    baseline = images(1, seed=2)[0] * 0.3  # not constant: max pooling would tie at the left nodes
    got = viz.saliency(model, x, class_index=0, method="integrated_gradients", steps=7, baseline=baseline,
                       integration=integration)
    if integration == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(7)
        nodes, weights = (nodes + 1) / 2, weights / 2
    elif integration == "riemann_trapezoid":
        nodes, weights = np.linspace(0, 1, 7), np.array([0.5, 1, 1, 1, 1, 1, 0.5]) / 6
    else:
        shift = {"riemann_left": 0, "riemann_middle": 0.5, "riemann_right": 1}[integration]
        nodes, weights = (np.arange(7) + shift) / 7, np.full(7, 1 / 7)
    total = np.zeros(x.shape[1:])
    for a, w in zip(nodes, weights):
        point = baseline + a * (x[0] - baseline)
        total += w * finite_difference(lambda v: logits(model, v[None])[0, 0], point)
    assert_close(got[0], total * (x[0] - baseline), rtol=1e-7)


def test_integrated_gradients_add_up_to_the_score_difference():
    """Completeness on a smooth model (tanh, average pooling): Gauss-Legendre with 50 nodes is
    exact to rounding; the trapezoid rule close; both from a zero and from a given baseline."""
    model = make_model(activation="tanh", pool="average")
    x = images(2)
    for baseline in (None, np.full(x.shape, -0.3)):
        base = np.zeros_like(x) if baseline is None else baseline
        difference = logits(model, x)[:, 1] - logits(model, base)[:, 1]
        for integration, bound in (("gausslegendre", 1e-9), ("riemann_trapezoid", 1e-3)):
            ig = viz.saliency(model, x, class_index=1, method="integrated_gradients", baseline=baseline,
                              integration=integration, batch_size=7)
            sums = ig.reshape(2, -1).sum(axis=1)
            assert np.all(np.abs(sums - difference) < bound * np.abs(difference).max()), (integration, sums)


def test_the_model_and_the_input_are_left_as_they_were():
    model = make_model()
    x = images(2)
    kept, weights = x.copy(), [w.copy() for w in model.get_weights()]
    for method in attribution.METHODS:
        viz.saliency(model, x, method=method, **({"samples": 2} if method == "smoothgrad" else {}))
    viz.grad_cam(model, x, plus_plus=True, upsample=True)
    viz.occlusion(model, x, 3, 2)
    np.testing.assert_array_equal(x, kept)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert not autograd.is_recording()


def test_channels_first_models_give_the_same_maps_moved():
    last, first = make_model(seed=4), make_model(seed=4, data_format="channels_first")
    for a, b in zip(last.layers, first.layers):  # the same weights (Flatten moves channels last first)
        b.set_weights(a.get_weights())
    x = images(2)
    xf = np.moveaxis(x, -1, 1)
    np.testing.assert_allclose(first.predict(xf, verbose=0), last.predict(x, verbose=0), rtol=1e-12)
    for method in ("vanilla", "integrated_gradients"):
        assert_close(
            np.moveaxis(viz.saliency(first, xf, method=method), 1, -1), viz.saliency(last, x, method=method)
        )
    assert_close(viz.grad_cam(first, xf, upsample=True), viz.grad_cam(last, x, upsample=True))
    assert_close(viz.grad_cam(first, xf, plus_plus=True), viz.grad_cam(last, x, plus_plus=True))
    assert_close(viz.occlusion(first, xf, 3, 2), viz.occlusion(last, x, 3, 2))
    np.testing.assert_array_equal(
        attribution.reduce_channels(np.moveaxis(x, -1, 1), "sum", data_format="channels_first"),
        x.sum(axis=-1),
    )


def test_an_unbuilt_sequential_builds_for_x():
    set_random_seed(24)
    layers = [L.Conv2D(2, 3, activation="tanh", **F64), L.Flatten(**F64), L.Dense(3, **F64)]
    model = Sequential(layers)
    x = images(1, shape=(5, 5, 1))[0]
    got = viz.saliency(model, x, class_index=1)
    assert model.built and got.shape == (5, 5, 1)
    assert_close(got, finite_difference(lambda v: model.predict(v[None], verbose=0)[0, 1], x), rtol=1e-7)
    assert viz.grad_cam(Sequential([L.Conv2D(2, 3), L.Flatten(), L.Dense(3)]), x).shape == (3, 3)


def test_reduce_channels():
    maps = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
    np.testing.assert_array_equal(attribution.reduce_channels(maps), np.abs(maps).max(axis=-1))
    np.testing.assert_array_equal(attribution.reduce_channels(maps[0], "sum"), maps[0].sum(axis=-1))


# ---- Grad-CAM against the definition ----------------------------------------------------------


def test_the_default_layer_is_the_last_with_a_4d_output():
    model = make_model()
    node, shape = attribution._cam_node(model, None, "grad_cam")
    assert node.layer is model.layers[2] and shape == (None, 3, 3, 5)
    assert viz.grad_cam(model, images(2)).shape == (2, 3, 3)
    assert viz.grad_cam(model, images(1)[0], layer=1).shape == (5, 5)
    assert viz.grad_cam(model, images(1)[0], layer=model.layers[0]).shape == (10, 10)
    assert viz.grad_cam(model, images(1)[0], upsample=True).shape == (10, 10)


@pytest.mark.parametrize("plus_plus", [False, True])
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_grad_cam_is_the_definition_written_out(plus_plus, layer):
    model = make_model(seed=5, activation="tanh")  # relu's zeros would tie in max pooling: no derivative
    x = images(2, seed=6)
    got = viz.grad_cam(model, x, layer=layer, class_index=[2, 0], plus_plus=plus_plus)
    for i, c in enumerate([2, 0]):
        a = viz.feature_maps(model, x[i], layers=layer)[model.layers[layer].name][0]  # (H', W', K)

        def rest(v, c=c):  # the logit from the layer's output on
            h = v[None]
            for later in model.layers[layer + 1: -1]:
                h = later(h)
            return (h @ model.layers[-1].kernel.value + model.layers[-1].bias.value)[0, c]

        g = finite_difference(rest, a)
        height, width, channels = a.shape
        cam = np.zeros((height, width))
        for k in range(channels):
            if plus_plus:
                weight = 0.0
                for p in range(height):
                    for q in range(width):
                        denominator = 2 * g[p, q, k] ** 2 + a[:, :, k].sum() * g[p, q, k] ** 3
                        alpha = g[p, q, k] ** 2 / denominator if denominator != 0 else 0.0
                        weight += alpha * max(g[p, q, k], 0.0)
            else:
                weight = g[:, :, k].sum() / (height * width)
            cam += weight * a[:, :, k]
        assert_close(got[i], np.maximum(cam, 0), rtol=1e-6)


def test_grad_cam_upsamples_bilinearly_and_stays_non_negative():
    model = make_model(seed=2)
    x = images(2)
    small = viz.grad_cam(model, x, layer=2)
    big = viz.grad_cam(model, x, layer=2, upsample=True)
    assert big.shape == (2, 10, 10) and np.all(big >= 0) and np.all(small >= 0)
    from convolve.ops.image import resize

    np.testing.assert_allclose(big, np.maximum(resize(small[..., None], (10, 10))[..., 0], 0))


def detector(size=16):
    """Grad-CAM must find the bright square: a 3x3 mean filter minus 0.4 (relu: positive where at
    least 4 of the 9 pixels are in the square, i.e. on it), global average pooling, and class 0 =
    that average, class 1 = its negative."""
    model = Sequential(
        [
            L.Input((size, size, 1), **F64),
            L.Conv2D(1, 3, padding="same", activation="relu", **F64),
            L.GlobalAveragePooling2D(**F64),
            L.Dense(2, activation="softmax", **F64),
        ]
    )
    model.layers[0].set_weights([np.full((3, 3, 1, 1), 1 / 9), np.array([-0.4])])
    model.layers[2].set_weights([np.array([[1.0, -1.0]]), np.zeros(2)])
    x = np.zeros((1, size, size, 1))
    x[0, 3:7, 9:13] = 1.0
    return model, x


def test_grad_cam_is_bright_on_the_object():
    model, x = detector()
    for plus_plus in (False, True):
        cam = viz.grad_cam(model, x, class_index=0, plus_plus=plus_plus)[0]
        assert cam.max() > 0
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        assert 3 <= peak[0] < 7 and 9 <= peak[1] < 13
        assert cam[3:7, 9:13].min() > 0 and cam[x[0, :, :, 0] == 0].max() == 0
        # the class against the square: its weights are negative, the ReLU leaves nothing
        assert np.all(viz.grad_cam(model, x, class_index=1, plus_plus=plus_plus) == 0)


# ---- occlusion against the definition ----------------------------------------------------------


@pytest.mark.parametrize("window, stride", [(3, 2), ((4, 2), (3, 1)), (10, 1), (2, 2)])
def test_occlusion_is_the_mean_drop_written_out(window, stride):
    model = make_model(seed=8)
    x = images(2, seed=9)
    baseline = np.full((10, 10, 2), 0.1)
    got = viz.occlusion(model, x, window, stride, baseline=baseline, class_index=[1, 2], batch_size=5)
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    for i, c in enumerate([1, 2]):
        p = model.predict(x[i: i + 1], verbose=0)[0, c]
        total, count = np.zeros((10, 10)), np.zeros((10, 10))
        top = 0
        while True:
            left = 0
            while True:
                occluded = x[i].copy()
                occluded[top: top + wh, left: left + ww] = baseline[top: top + wh, left: left + ww]
                drop = p - model.predict(occluded[None], verbose=0)[0, c]
                total[top: top + wh, left: left + ww] += drop
                count[top: top + wh, left: left + ww] += 1
                if left + ww >= 10:
                    break
                left += sw
            if top + wh >= 10:
                break
            top += sh
        assert_close(got[i], total / count, rtol=1e-10)


def test_occlusion_predicts_in_batches():
    model = make_model()
    calls = []
    predict = model.predict
    model.predict = lambda x, **kw: calls.append(len(x)) or predict(x, **kw)
    viz.occlusion(model, images(1)[0], 2, 1)  # 81 windows
    assert calls == [1, 64, 17]
    calls.clear()
    viz.occlusion(model, images(2), 2, 1, batch_size=100)
    assert calls == [2, 81, 81]


# ---- threads --------------------------------------------------------------------------------


def test_saliency_from_two_threads_at_once():
    models = [make_model(seed=10), make_model(seed=11, activation="tanh")]
    xs = [images(3, seed=12), images(3, seed=13)]
    expected = [viz.saliency(m, x, method="integrated_gradients", steps=20) for m, x in zip(models, xs)]
    cams = [viz.grad_cam(m, x) for m, x in zip(models, xs)]
    results, errors = {}, []
    start = threading.Barrier(2)

    def work(k):
        try:
            start.wait(10)
            for _ in range(3):
                results[k] = viz.saliency(models[k], xs[k], method="integrated_gradients", steps=20)
                results[k, "cam"] = viz.grad_cam(models[k], xs[k])
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for k in range(2):
        np.testing.assert_array_equal(results[k], expected[k])
        np.testing.assert_array_equal(results[k, "cam"], cams[k])


# ---- PyTorch and Captum ----------------------------------------------------------------------


def torch_twin(model, softmax=False):
    """The same network in PyTorch (NCHW), weights copied: Conv2D+relu as one block (so a hook on
    it sees the convolve layer's output), pooling, flatten in NHWC order, dense (+ softmax)."""
    torch = helpers.torch()
    nn = torch.nn
    blocks = []
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            kernel, bias = layer.get_weights()
            k = kernel.shape[0]
            conv = nn.Conv2d(
                kernel.shape[2], kernel.shape[3], k, padding=k // 2 if layer.padding == "same" else 0
            )
            conv.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            conv.bias.data = torch.from_numpy(bias.copy())
            act = {"relu": nn.ReLU(), "tanh": nn.Tanh()}[layer.activation.__name__]
            blocks.append(nn.Sequential(conv, act))
        elif isinstance(layer, L.MaxPooling2D):
            blocks.append(nn.MaxPool2d(2))
        elif isinstance(layer, L.AveragePooling2D):
            blocks.append(nn.AvgPool2d(2))
        elif isinstance(layer, L.Flatten):
            blocks.append(nn.Flatten())
            blocks.insert(-1, Nhwc())
        else:
            kernel, bias = layer.get_weights()
            dense = nn.Linear(*kernel.shape)
            dense.weight.data = torch.from_numpy(kernel.T.copy())
            dense.bias.data = torch.from_numpy(bias.copy())
            blocks.append(dense)
    if softmax:
        blocks.append(nn.Softmax(dim=1))
    return nn.Sequential(*blocks).double().eval()


def Nhwc():  # noqa: N802 - a module factory, named like the class it makes
    torch = helpers.torch()

    class ToNhwc(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1)

    return ToNhwc()


def nchw(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def nhwc(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


@requires("torch")
@pytest.mark.parametrize("activation, pool", [("relu", "max"), ("tanh", "average")])
def test_saliency_matches_pytorch_autograd(activation, pool):
    torch = helpers.torch()
    model = make_model(seed=14, activation=activation, pool=pool)
    twin = torch_twin(model)
    x = images(3, seed=15)
    xt = torch.tensor(nchw(x), requires_grad=True)
    out = twin(xt)
    np.testing.assert_allclose(out.detach().numpy(), logits(model, x), rtol=1e-10, atol=1e-12)
    classes = out.argmax(dim=1)
    (grad,) = torch.autograd.grad(out.gather(1, classes[:, None]).sum(), xt)
    assert_close(viz.saliency(model, x), nhwc(grad), rtol=1e-10)
    # integrated gradients, Gauss-Legendre, written out with torch's gradients
    nodes, weights = np.polynomial.legendre.leggauss(50)
    total = torch.zeros_like(xt)
    for a, w in zip((nodes + 1) / 2, weights / 2):
        point = (a * torch.tensor(nchw(x))).requires_grad_(True)
        (g,) = torch.autograd.grad(twin(point).gather(1, classes[:, None]).sum(), point)
        total += w * g
    expected = nhwc(total) * x
    assert_close(viz.saliency(model, x, method="integrated_gradients"), expected, rtol=1e-10)


@requires("torch", "captum")
def test_saliency_matches_captum():
    torch = helpers.torch()
    from captum.attr import InputXGradient, IntegratedGradients, Saliency

    model = make_model(seed=16)
    twin = torch_twin(model)
    x = images(2, seed=17)
    xt = torch.tensor(nchw(x))
    target = torch.tensor(np.argmax(model.predict(x, verbose=0), axis=-1))
    vanilla = Saliency(twin).attribute(xt, target=target, abs=False)
    assert_close(viz.saliency(model, x), nhwc(vanilla), rtol=1e-10)
    gxi = InputXGradient(twin).attribute(xt, target=target)
    assert_close(viz.saliency(model, x, method="gradient_x_input"), nhwc(gxi), rtol=1e-10)
    ig = IntegratedGradients(twin)
    for integration in ("gausslegendre", "riemann_right", "riemann_left", "riemann_middle"):
        theirs = ig.attribute(xt, baselines=0.0, target=target, n_steps=50, method=integration)
        ours = viz.saliency(model, x, method="integrated_gradients", steps=50, integration=integration)
        assert_close(ours, nhwc(theirs), rtol=1e-7)  # Captum rounds its step sizes to float32
    # Captum's trapezoid weighs its 50 nodes 1/50 (a sum of 49/50); ours 1/49, halved at the ends
    theirs = ig.attribute(xt, baselines=0.0, target=target, n_steps=50, method="riemann_trapezoid")
    ours = viz.saliency(model, x, method="integrated_gradients", integration="riemann_trapezoid")
    assert_close(ours, nhwc(theirs) * 50 / 49, rtol=1e-7)
    # score="output" against Captum on the softmax model
    probabilities = torch_twin(model, softmax=True)
    theirs = IntegratedGradients(probabilities).attribute(xt, baselines=0.0, target=target, n_steps=50)
    ours = viz.saliency(model, x, method="integrated_gradients", score="output")
    assert_close(ours, nhwc(theirs), rtol=1e-7)


@requires("torch", "captum")
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_grad_cam_matches_captums_layer_grad_cam(layer):
    torch = helpers.torch()
    from captum.attr import LayerAttribution, LayerGradCam

    model = make_model(seed=18)
    twin = torch_twin(model)
    x = images(3, seed=19)
    xt = torch.tensor(nchw(x))
    target = torch.tensor([0, 1, 2])
    cam = LayerGradCam(twin, twin[layer])
    theirs = cam.attribute(xt, target=target, relu_attributions=True)  # default False, the paper's ReLU
    ours = viz.grad_cam(model, x, layer=layer, class_index=[0, 1, 2])
    assert_close(ours, theirs.detach().numpy()[:, 0], rtol=1e-10)
    raw = cam.attribute(xt, target=target)  # without the ReLU: ours is its positive part
    assert_close(ours, np.maximum(raw.detach().numpy()[:, 0], 0), rtol=1e-10)
    upsampled = LayerAttribution.interpolate(theirs, (10, 10), interpolate_mode="bilinear")
    assert_close(viz.grad_cam(model, x, layer=layer, class_index=[0, 1, 2], upsample=True),
                 np.maximum(upsampled.detach().numpy()[:, 0], 0), rtol=1e-10)


@requires("torch", "captum")
@pytest.mark.parametrize("window, stride", [(3, 2), ((4, 2), (3, 1))])
def test_occlusion_matches_captum(window, stride):
    torch = helpers.torch()
    from captum.attr import Occlusion

    model = make_model(seed=20)
    twin = torch_twin(model, softmax=True)
    x = images(2, seed=21)
    xt = torch.tensor(nchw(x))
    target = torch.tensor([2, 0])
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    theirs = Occlusion(twin).attribute(
        xt,
        sliding_window_shapes=(2, wh, ww),
        strides=(2, sh, sw),
        baselines=0.5,
        target=target,
        perturbations_per_eval=16,
    )
    theirs = theirs.detach().numpy()
    np.testing.assert_allclose(theirs[:, 0], theirs[:, 1])  # every channel of a window at once
    ours = viz.occlusion(model, x, window, stride, baseline=0.5, class_index=[2, 0])
    assert_close(ours, theirs[:, 0], rtol=1e-7)  # Captum divides by the window counts in float32


# ---- pictures ----------------------------------------------------------------------------------


def png_size(path):
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_saliency_draws_the_reduced_map_over_each_image(tmp_path):
    model = make_model()
    x = images(2)
    fig = viz.plot_saliency(
        model, x, class_index=[1, 2], path=tmp_path / "s.png", class_names=["a", "b", "c"]
    )
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["1: b", "2: c"]
    expected = attribution.reduce_channels(viz.saliency(model, x, class_index=[1, 2]), "max_abs")
    for ax, heat, sample in zip(panels, expected, x):
        np.testing.assert_allclose(ax.images[1].get_array(), heat)
        assert ax.images[1].get_clim() == (0.0, heat.max()) and ax.images[1].cmap.name == "inferno"
        grey = ax.images[0].get_array()
        assert grey.shape == (10, 10) and grey.min() == 0 and grey.max() == 1
        np.testing.assert_allclose(grey, (sample.mean(-1) - sample.mean(-1).min()) / np.ptp(sample.mean(-1)))
    assert png_size(tmp_path / "s.png")[0] > 200
    ig = viz.plot_saliency(model, x[0], class_index=0, method="integrated_gradients", steps=10)
    shown = [ax for ax in ig.axes if ax.images and ax.get_title()][0].images[1]
    expected = viz.saliency(model, x[0], class_index=0, method="integrated_gradients", steps=10).sum(-1)
    np.testing.assert_allclose(shown.get_array(), expected)
    limit = np.abs(expected).max()
    assert shown.get_clim() == (-limit, limit) and shown.cmap.name == "RdBu_r"


def test_plot_grad_cam_is_bright_on_the_object(tmp_path):
    model, x = detector()
    fig = viz.plot_grad_cam(model, x[0], class_index=0, path=tmp_path / "cam.png")
    (ax,) = [ax for ax in fig.axes if ax.images and ax.get_title()]
    heat = np.asarray(ax.images[1].get_array())
    assert heat.shape == (16, 16)
    assert heat[3:7, 9:13].min() > 0 and heat[x[0, :, :, 0] == 0].max() == 0
    assert f"Grad-CAM of {model.layers[0].name} (16, 16, 1)" in fig._suptitle.get_text()
    assert png_size(tmp_path / "cam.png")[0] > 100


def test_plot_grad_cam_and_occlusion_on_rgb_images(tmp_path):
    set_random_seed(22)
    model = Sequential([L.Input((12, 12, 3)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                        L.Flatten(), L.Dense(3, activation="softmax")])
    x = np.random.default_rng(23).uniform(0, 255, size=(3, 12, 12, 3)).astype(np.uint8)
    fig = viz.plot_grad_cam(model, x, plus_plus=True)
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(panels) == 3 and panels[0].images[0].get_array().shape == (12, 12, 3)
    assert f"Grad-CAM++ of {model.layers[1].name} (5, 5, 4)" in fig._suptitle.get_text()
    fig = viz.plot_occlusion(model, x[0], window=4, stride=2, path=tmp_path / "occ.png")
    (ax,) = [ax for ax in fig.axes if ax.images and ax.get_title()]
    expected = viz.occlusion(model, x[0], 4, 2)
    np.testing.assert_allclose(ax.images[1].get_array(), expected, rtol=1e-6)
    limit = np.abs(expected).max()
    np.testing.assert_allclose(ax.images[1].get_clim(), (-limit, limit))
    assert png_size(tmp_path / "occ.png")[0] > 100


# ---- messages ----------------------------------------------------------------------------------


class Detached(Layer):
    """A user layer that returns a plain array: it cuts the recorded graph."""

    def call(self, inputs, training=False):
        return np.asarray(autograd.value(inputs)) * 1.0


def test_messages(tmp_path):
    model = make_model()
    x = images(1)
    cases = [
        (
            lambda: viz.saliency(model, x, method="deconv"),
            r"saliency: method must be one of \['vanilla', 'gradient_x_input', 'smoothgrad', "
            r"'integrated_gradients'\]. Received: method='deconv'",
        ),
        (
            lambda: viz.saliency(model, x, score="probability"),
            r"saliency: score must be one of \['logit', 'output'\]. Received: score='probability'",
        ),
        (
            lambda: viz.saliency(model, x, steps=10),
            r"saliency: method 'vanilla' takes the options none \(and score, batch_size\). Received: "
            r"steps=10",
        ),
        (
            lambda: viz.saliency(model, x, method="smoothgrad", stdev=1),
            r"saliency: method 'smoothgrad' takes the options \['noise_level', 'samples', 'seed'\] \(and "
            r"score, batch_size\). Received: stdev=1",
        ),
        (
            lambda: viz.saliency(model, x, class_index=3),
            r"saliency: class_index must be None \(the predicted class\), an int in \[0, 3\) or one such "
            r"int per sample \(1\). Received: class_index=3",
        ),
        (
            lambda: viz.saliency(model, images(2), class_index=[0, 1, 2]),
            r"per sample \(2\). Received: class_index=\[0, 1, 2\]",
        ),
        (lambda: viz.saliency(model, x, class_index=1.0), r"Received: class_index=1.0"),
        (
            lambda: viz.saliency(model, x, batch_size=0),
            r"saliency: batch_size must be an integer >= 1. Received: batch_size=0",
        ),
        (
            lambda: viz.saliency(model, x, method="smoothgrad", samples=0),
            r"samples must be an integer >= 1. Received: samples=0",
        ),
        (
            lambda: viz.saliency(model, x, method="smoothgrad", noise_level=-0.1),
            r"saliency: noise_level must be a number >= 0. Received: noise_level=-0.1",
        ),
        (
            lambda: viz.saliency(model, x, method="integrated_gradients", steps=1),
            r"integration_rule: steps must be an integer >= 2. Received: steps=1",
        ),
        (
            lambda: viz.saliency(model, x, method="integrated_gradients", integration="simpson"),
            r"integration_rule: integration must be one of \['gausslegendre', 'riemann_left', "
            r"'riemann_right', 'riemann_middle', 'riemann_trapezoid'\]. Received: integration='simpson'",
        ),
        (
            lambda: viz.saliency(model, x, method="integrated_gradients", baseline=np.zeros((10, 10))),
            r"saliency: baseline must be None \(zeros\), a number, or an array of one sample's shape \(10, "
            r"10, 2\) or x's \(1, 10, 10, 2\), finite. Received: baseline of shape \(10, 10\)",
        ),
        (
            lambda: viz.saliency(model, x, method="integrated_gradients", baseline=np.nan),
            r"Received: baseline of shape \(\)",
        ),
        (
            lambda: viz.saliency(model, np.zeros((1, 1, 10, 10, 2))),
            r"saliency: Sequential 'sequential\w*' takes inputs of rank 4 \(batch included\); pass one "
            r"sample of rank 3 or a batch. Received: x with shape \(1, 1, 10, 10, 2\)",
        ),
        (
            lambda: viz.saliency("model", x),
            r"saliency: expected a Sequential or a functional Model. Received: str",
        ),
        (
            lambda: attribution.reduce_channels(np.zeros((4, 4)), "sum"),
            r"reduce_channels: expected maps of an image's shape, \(H, W, C\) or \(N, H, W, C\) \(channels "
            r"first: \(C, H, W\) or \(N, C, H, W\)\). Received: shape \(4, 4\)",
        ),
        (
            lambda: attribution.reduce_channels(np.zeros((4, 4, 1)), "mean"),
            r"reduce_channels: reduction must be one of \['max_abs', 'sum'\]. Received: reduction='mean'",
        ),
        (
            lambda: attribution.reduce_channels(np.zeros((4, 4, 1)), data_format="NHWC"),
            r"reduce_channels: data_format must be one of \['channels_last', 'channels_first'\]. "
            r"Received: data_format='NHWC'",
        ),
        (
            lambda: viz.grad_cam(model, x, layer=3),
            r"grad_cam: the layer must be called once in the model and have a 4-D output \(batch, height, "
            r"width, channels\). Received: layer 'flatten\w*' with output shape \(None, 45\)",
        ),
        (
            lambda: viz.grad_cam(model, x, layer="nope"),
            r"grad_cam: Sequential '\w+' has no layer named 'nope'",
        ),
        (lambda: viz.grad_cam(model, x, score="x"), r"grad_cam: score must be one of"),
        (
            lambda: viz.occlusion(model, x, 11, 1),
            r"occlusion: along the height the window \(11\) must fit the image \(10\) and the stride \(1\) "
            r"must not "
            r"exceed the window, or pixels between windows are never occluded. Received: window 11, stride 1",
        ),
        (
            lambda: viz.occlusion(model, x, (2, 3), (2, 4)),
            r"along the width the window \(3\) must fit the image "
            r"\(10\) and the stride \(4\) must not exceed the window, .* Received: window 3, stride 4",
        ),
        (
            lambda: viz.occlusion(model, x, (2, 3, 1), 1),
            r"occlusion: window must be a positive int or a pair of them \(height, width\). "
            r"Received: window=\(2, 3, 1\)",
        ),
        (
            lambda: viz.occlusion(model, x, 2, 0),
            r"occlusion: stride must be a positive int or a pair of them",
        ),
        (
            lambda: viz.occlusion(model, x, 2, 2, baseline=np.zeros(3)),
            r"occlusion: baseline must be a finite number or an array of one image's shape \(10, 10, 2\). "
            r"Received: baseline of shape \(3,\)",
        ),
        (
            lambda: viz.occlusion(model, x, 2, 2, batch_size=-1),
            r"occlusion: batch_size must be an integer >= 1",
        ),
        (
            lambda: viz.plot_saliency(model, x, alpha=2),
            r"plot_saliency: alpha must be a number in \[0, 1\]. Received: alpha=2",
        ),
        (lambda: viz.plot_saliency(model, x, reduction="l2"), r"plot_saliency: reduction must be one of"),
        (lambda: viz.plot_saliency(model, x, method="lime"), r"plot_saliency: method must be one of"),
        (
            lambda: viz.plot_saliency(model, images(65)),
            r"plot_saliency: at most 64 samples fit one figure. Received: 65 samples",
        ),
        (
            lambda: viz.plot_grad_cam(model, x, path=tmp_path / "missing" / "a.png"),
            r"plot_grad_cam: the folder to save the PNG in does not exist",
        ),
        (
            lambda: viz.plot_occlusion(model, x, 2, 2, path=3),
            r"plot_occlusion: path must be a file name \(str or os.PathLike\) or None. Received: path=3",
        ),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, TypeError, FileNotFoundError), match=message):
            call()


def test_messages_about_the_model():
    set_random_seed(0)
    inp = L.Input((6, 6, 1))
    h = L.Conv2D(2, 3)(inp)
    two = Model(inp, [L.Dense(2)(L.Flatten()(h)), L.Dense(3)(L.Flatten()(h))])
    with pytest.raises(
        ValueError,
        match=r"saliency: attribution explains models with one input and one output. Received: Model "
        r"'functional\w*' with 1 inputs and 2 outputs",
    ):
        viz.saliency(two, np.zeros((6, 6, 1)))
    maps = Model(inp, h)
    with pytest.raises(
        ValueError,
        match=r"grad_cam: expected a classifier whose output has shape \(batch, classes\). Received: Model "
        r"'functional\w*' with output shape \(None, 4, 4, 2\)",
    ):
        viz.grad_cam(maps, np.zeros((6, 6, 1)))
    vectors = Sequential([L.Input((5,)), L.Dense(3)])
    with pytest.raises(
        ValueError,
        match=r"grad_cam: expected images, \(H, W, C\) or a batch \(N, H, W, C\). Received: x.shape=\(2, 5\)",
    ):
        viz.grad_cam(vectors, np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"occlusion: expected images, \(H, W, C\) or a batch"):
        viz.occlusion(vectors, np.zeros((2, 5)), 1, 1)
    flat = Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(3)])
    with pytest.raises(
        ValueError,
        match=r"grad_cam: Sequential '\w+' has no layer with a 4-D output \(batch, height, width, "
        r"channels\) to weigh; name one with layer=... Received: layer=None",
    ):
        viz.grad_cam(flat, np.zeros((4, 4, 1)))
    shared = L.Conv2D(1, 1, padding="same")
    inp = L.Input((4, 4, 1))
    twice = Model(inp, L.Dense(2)(L.Flatten()(shared(shared(inp)))))
    with pytest.raises(ValueError, match=rf"Received: layer '{shared.name}' with 2 calls"):
        viz.grad_cam(twice, np.zeros((4, 4, 1)), layer=shared)
    cut = Sequential([L.Input((4,)), Detached(), L.Dense(2)])
    with pytest.raises(
        ValueError,
        match=r"saliency: the model's output does not depend on its input \(nothing was recorded\). "
        r"Received: an output of type ndarray",
    ):
        viz.saliency(cut, np.zeros(4))
