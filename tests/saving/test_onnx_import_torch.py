"""ONNX import of PyTorch models: a small CNN (conv, batch norm, relu, max pooling, a strided
padded conv, a depthwise conv in a residual block, average and global pooling, flatten, linear,
softmax) exported with ``torch.onnx.export`` by both exporters (TorchScript, ``dynamo=False``, and
the default dynamo one, which needs onnxscript), loaded with ``load_model`` and compared with
PyTorch (float32, relative error below 1e-5). Then every convolve tool on the imported model:
summary with receptive fields, feature maps, plot_filters, viz.explain, fit, saving.
"""
from __future__ import annotations

import numpy as np
import pytest

from convolve.models import load_model
from tests.helpers import relative_error, requires

pytestmark = [requires("torch"), requires("onnx"), requires("onnxruntime")]

RNG = np.random.default_rng(11)


def net(kind="both"):
    """The CNN of the issue, in eval mode, float32, with random batch-norm statistics. ``kind``:
    'both' returns (logits, softmax); 'probs' the softmax; 'global' ends with global pooling;
    'pad' has padding_mode='reflect' in its first conv (exported as a Pad) and MaxPool2d(3, 2, padding=1)
    after a ReLU6."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect" if kind == "pad" else "zeros")
            self.bn1 = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(3, 2, padding=1) if kind == "pad" else nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.bn2 = nn.BatchNorm2d(16)
            self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
            self.pointwise = nn.Conv2d(16, 16, 1)
            self.avg = nn.AdaptiveAvgPool2d(1) if kind == "global" else nn.AvgPool2d(2)
            self.fc = nn.Linear(16 if kind == "global" else 64, 10)

        def forward(self, x):
            if kind == "pad":
                x = F.relu6(self.bn1(self.conv1(x)))
            else:
                x = torch.relu(self.bn1(self.conv1(x)))
            x = self.pool(x)
            x = torch.relu(self.bn2(self.conv2(x)))
            x = x + self.pointwise(torch.relu(self.depthwise(x)))
            x = torch.flatten(self.avg(x), 1)
            logits = self.fc(x)
            probs = torch.softmax(logits, dim=1)
            return (logits, probs) if kind == "both" else probs

    torch.manual_seed(0)
    model = Net().float().eval()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return model


def export(model, path, dynamo, size=16, **options):
    import torch

    x = torch.zeros(2, 3, size, size, dtype=torch.float32)  # whatever default dtype an earlier test set
    if dynamo:
        torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},), **options)
    else:
        torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["image"],
                          dynamic_axes={"image": {0: "batch"}}, **options)
    return path


def torch_outputs(model, x):
    import torch

    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def assert_predicts_like(model, path, x):
    loaded = load_model(path)
    got = loaded.predict(x, verbose=0)
    got = got if isinstance(got, list) else [got]
    want = torch_outputs(model, x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float32 and g.shape == w.shape
        assert relative_error(g, w) < 1e-5
    return loaded


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("folding", [True, False], ids=["bn-folded", "bn-kept"])
def test_torchscript_exporter(tmp_path, folding):
    model = net()
    path = export(model, tmp_path / "net.onnx", dynamo=False, do_constant_folding=folding)
    loaded = assert_predicts_like(model, path, RNG.standard_normal((5, 3, 16, 16)).astype(np.float32))
    types = layer_types(loaded)
    assert types.count("BatchNormalization") == (0 if folding else 2)
    assert {"Conv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D", "Add", "Flatten", "Dense",
            "Softmax"} <= set(types)
    assert loaded.input_shape == (None, 3, 16, 16)
    assert [t.name for t in loaded.inputs] == ["image"]


@requires("onnxscript")
@pytest.mark.parametrize("kind", ["both", "global", "pad"])
def test_dynamo_exporter(tmp_path, kind):
    model = net(kind)
    path = export(model, tmp_path / "net.onnx", dynamo=True)
    loaded = assert_predicts_like(model, path, RNG.standard_normal((3, 3, 16, 16)).astype(np.float32))
    assert "DepthwiseConv2D" in layer_types(loaded)


@requires("onnxscript")
def test_dynamo_exporter_with_a_static_batch(tmp_path):
    """Without dynamic_shapes the graph declares batch 2; the model takes any batch."""
    import torch

    model = net("probs")
    x = torch.zeros(2, 3, 16, 16, dtype=torch.float32)
    torch.onnx.export(model, (x,), str(tmp_path / "net.onnx"), external_data=False, verbose=False)
    assert_predicts_like(model, tmp_path / "net.onnx", RNG.standard_normal((7, 3, 16, 16)).astype(np.float32))


@pytest.mark.parametrize("kind", ["global", "pad"])
def test_torchscript_pad_and_global_pool(tmp_path, kind):
    model = net(kind)
    path = export(model, tmp_path / "net.onnx", dynamo=False, do_constant_folding=False)
    loaded = assert_predicts_like(model, path, RNG.standard_normal((2, 3, 16, 16)).astype(np.float32))
    if (
        kind == "pad"
    ):  # the reflect pad is the conv's padding_mode; the max pooling pads with zeros after ReLU6
        conv = loaded.get_layer(index=1)
        assert conv.padding_mode == "reflect" and conv.padding == ((1, 1), (1, 1))
        assert "ZeroPadding2D" in layer_types(loaded)


# ---- convolve's tools on an imported model --------------------------------------------------------


@pytest.fixture
def imported(tmp_path):
    """(torch model, imported model) with batch norm kept as layers, the model returning probabilities."""
    model = net("probs")
    path = export(model, tmp_path / "net.onnx", dynamo=False, do_constant_folding=False)
    return model, load_model(path)


def test_summary_shows_receptive_fields(imported):
    _, loaded = imported
    lines = []
    loaded.summary(print_fn=lines.append)
    text = "\n".join(lines)
    conv1 = next(line for line in text.splitlines() if line.startswith("conv1_Conv "))
    assert "(None, 8, 16, 16)" in conv1 and " 3x3 " in conv1 and " 1x1 " in conv1
    conv2 = next(line for line in text.splitlines() if line.startswith("conv2_Conv "))
    assert " 8x8 " in conv2 and " 4x4 " in conv2  # 3x3, pool 2 (4x4, jump 2), 3x3 stride 2: 4 + 2 * 2


def test_feature_maps_match_pytorch(imported):
    import torch

    model, loaded = imported
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    from convolve.viz import feature_maps

    maps = feature_maps(loaded, x, layers=["conv1_Conv", "bn1_BatchNormalization"])
    with torch.no_grad():
        conv = model.conv1(torch.from_numpy(x))
        bn = model.bn1(conv)
    assert maps["conv1_Conv"].shape == (1, 8, 16, 16)
    assert relative_error(maps["conv1_Conv"], conv.numpy()) < 1e-5
    assert relative_error(maps["bn1_BatchNormalization"], bn.numpy()) < 1e-5


def test_plot_filters_draws_the_pytorch_kernels(imported):
    model, loaded = imported
    from convolve.viz import plot_filters

    figure = plot_filters(loaded.get_layer("conv1_Conv"))
    cells = [ax for ax in figure.axes if ax.images]
    assert len(cells) == 8
    weight = model.conv1.weight.detach().numpy()[2].transpose(1, 2, 0)  # filter 2 as (kh, kw, RGB)
    drawn = cells[2].images[0].get_array()
    expected = (weight - weight.min()) / (weight.max() - weight.min())
    np.testing.assert_allclose(np.asarray(drawn), expected, atol=1e-6)


def test_explain_reproduces_an_output_of_an_imported_conv(imported):
    _, loaded = imported
    from convolve.viz import explain, feature_maps

    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    conv = loaded.get_layer("conv2_Conv")
    before = feature_maps(loaded, x, layers=["pool_MaxPool"])["pool_MaxPool"]
    after = feature_maps(loaded, x, layers=["conv2_Conv"])["conv2_Conv"]
    result = explain(
        np.moveaxis(before[0], 0, -1),
        conv.kernel.value,
        bias=conv.bias.value,
        strides=conv.strides,
        padding=conv.padding,
        at=(3, 1),
        filter=5,
        print_fn=None,
    )
    assert abs(result.value - after[0, 5, 3, 1]) < 1e-5 * max(1.0, abs(result.value))


def test_fit_fine_tunes_an_imported_model(imported):
    _, loaded = imported
    x = RNG.standard_normal((32, 3, 16, 16)).astype(np.float32)
    y = np.arange(32) % 10
    loaded.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = loaded.get_layer("fc_Gemm").kernel.numpy()
    first = loaded.evaluate(x, y, verbose=0)
    loaded.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert loaded.evaluate(x, y, verbose=0) < first
    assert not np.array_equal(loaded.get_layer("fc_Gemm").kernel.numpy(), before)


def test_an_imported_model_saves_and_loads_natively(imported, tmp_path):
    pytest.importorskip("safetensors")
    _, loaded = imported
    loaded.save(tmp_path / "net.safetensors")
    again = load_model(tmp_path / "net.safetensors")
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert layer_types(again) == layer_types(loaded)

