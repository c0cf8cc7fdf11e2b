"""What the explorer computes for one model, with no web framework: the model's description,
an image's prediction and feature maps, the first layer's filters, saliency and Grad-CAM
overlays, and one value's arithmetic (``viz.explain_unit``), each as a JSON-ready dict.

    session = ExplorerSession(model)
    result = session.analyse(session.add_test_image(3))      # {"id": ..., "prediction": ..., "layers": ...}
    session.grad_cam(result["id"])                            # {"map": base64 uint8 (H, W), ...}
    session.explain(result["id"], "conv2d", row=4, col=7, channel=2)

**Images** are kept by id (the first 16 hex digits of the SHA-256 of their float32 values and
shape), in a small LRU cache shared by the server's threads and guarded by one lock; the
model's computations run outside the lock (``model.predict`` and the attribution functions
record on the calling thread's own tape, so threads do not share state there). Each entry
also keeps what was computed for it (the analysis, Grad-CAM and saliency per class), so a
request repeated for the same image is answered from the cache.

**Pictures travel as bytes, not floats.** A layer's maps are sent as one uint8 per value
(base64), channels first, scaled by the layer's largest |value|: 0..255 for a layer whose values
are all >= 0, and 128 + 127 * v / max|v| for a signed one (the page draws those with a diverging
colour map, white at 0). At most ``MAX_CHANNELS`` channels of a layer are sent (the page says how
many there are); the exact value of any unit comes from ``explain``.

**Test images** (``test_images``): a model records what it was trained on in its name (``convolve
train`` and ``convolve demo`` name models ``<dataset tag>_<architecture>``). Models trained on
Fashion-MNIST (the bundled subset or the whole set) are offered the 1,000 Fashion-MNIST test
images bundled with convolve, and so is a model that does not say, when it takes 28x28 grey
images. Models of another dataset (MNIST, CIFAR) are offered none: the explorer never searches
for or downloads a dataset.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict

import numpy as np

from ..data.model_inputs import class_count, input_spec, probabilities, read_for_model

#: the most channels of one layer sent to the page
MAX_CHANNELS = 64
#: the most filters of the first layer sent to the page
MAX_FILTERS = 64
#: images (and what was computed for them) kept at once
CACHE_SIZE = 64
#: decoded uploads may have at most this many pixels (width x height), checked from the header
MAX_PIXELS = 25_000_000
#: model-name tags (``<tag>_<architecture>``) that mean Fashion-MNIST, longest first
FASHION_TAGS = ("fashion_mnist_subset", "fashion_mnist")
#: model-name tags of the other datasets ``convolve train`` knows (no test images offered)
OTHER_TAGS = ("cifar100_coarse", "cifar100", "cifar10", "mnist")
FASHION_TITLE = "Fashion-MNIST test images (the 1,000 bundled with convolve)"


class ExplorerError(Exception):
    """A request the explorer cannot serve: ``status`` is the HTTP status it maps to (400 a bad
    argument, 404 something unknown, 413 too large, 415 not an image)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _b64(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def encode_maps(maps):
    """(C, ...) float maps as (base64 uint8 bytes, scale, signed): see the module docstring."""
    maps = np.asarray(maps, dtype=np.float64)
    finite = maps[np.isfinite(maps)]
    signed = bool(finite.size and finite.min() < 0)
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    unit = np.nan_to_num(maps / scale, nan=0.0, posinf=1.0, neginf=-1.0) if scale > 0 else np.zeros_like(maps)
    codes = 128 + 127 * np.clip(unit, -1, 1) if signed else 255 * np.clip(unit, 0, 1)
    return _b64(np.rint(codes)), scale, signed


def dataset_tag(model) -> str | None:
    """The dataset tag a model's name starts with (module docstring), or None."""
    name = getattr(model, "name", "") or ""
    for tag in FASHION_TAGS + OTHER_TAGS:
        if name == tag or name.startswith(tag + "_"):
            return tag
    return None


class ExplorerSession:
    """One model and the images the page has shown it (module docstring).

    Args:
        model: a built Sequential or functional Model with one image input (batch, H, W, C)
            (or channels first) and one output of class scores (batch, classes).
        max_pixels: uploads with more pixels than this are refused from their header.
        cache_size: how many images are kept.
    """

    def __init__(self, model, max_pixels=MAX_PIXELS, cache_size=CACHE_SIZE):
        self.model = model
        try:
            self.spec = input_spec(model)
            self.classes = class_count(model)
        except ValueError as error:
            raise ValueError(
                f"the explorer shows models with one image input and one output of class scores: {error}"
            ) from None
        self.max_pixels = max_pixels
        self.cache_size = cache_size
        self.class_names = self._class_names()
        self.layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        self._lock = threading.Lock()
        self._images: OrderedDict = OrderedDict()
        self.test_x, self.test_y, self.test_title = self._test_images()

    # ---- what the model is -------------------------------------------------------------------
    def _class_names(self):
        names = getattr(self.model, "class_names", None)
        if isinstance(names, (list, tuple)) and len(names) == self.classes:
            return [str(name) for name in names]
        if dataset_tag(self.model) in FASHION_TAGS and self.classes == 10:
            from ..datasets import fashion_mnist

            return list(fashion_mnist.CLASS_NAMES)
        return [f"class {i}" for i in range(self.classes)]

    def _test_images(self):
        tag = dataset_tag(self.model)
        fits = (self.spec.height, self.spec.width, self.spec.channels) == (28, 28, 1)
        if not fits or tag in OTHER_TAGS:
            return None, None, None
        from ..datasets import fashion_mnist

        (_, _), (x, y) = fashion_mnist.load_subset()
        x = x.astype(np.float32)[..., None] * np.float32(self.spec.white / 255.0)  # (N, 28, 28, 1)
        if self.spec.channels_first:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        x.flags.writeable = False
        return x, y.astype(np.int64), FASHION_TITLE

    def describe(self):
        """The model for the page: layers (name, type, output shape), classes, test images."""
        shapes = self.model._propagate_shapes([self.model._inputs[0].shape])
        first_call = {}
        for node in self.model._nodes:
            first_call.setdefault(id(node.layer), shapes[id(node)])
        count = 0 if self.test_x is None else len(self.test_x)
        return {
            "name": self.model.name,
            "input": {"height": self.spec.height, "width": self.spec.width, "channels": self.spec.channels},
            "drawable": self.spec.channels == 1,
            "classes": self.class_names,
            "layers": [
                {
                    "name": layer.name,
                    "type": type(layer).__name__,
                    "shape": [None if v is None else int(v) for v in first_call[id(layer)][1:]],
                }
                for layer in self.layers
            ],
            "filters": self.filters(),
            "test_images": {"title": self.test_title, "count": count, "samples": self._samples()},
            "max_pixels": self.max_pixels,
        }

    def _samples(self):
        """The first test image of each class, as the page draws thumbnails of them."""
        if self.test_y is None:
            return []
        firsts = sorted(int(np.flatnonzero(self.test_y == k)[0]) for k in np.unique(self.test_y))
        return [
            {
                "index": i,
                "label": int(self.test_y[i]),
                "image": {
                    "data": self.image_pixels(self.test_x[i : i + 1]),
                    "height": self.spec.height,
                    "width": self.spec.width,
                    "channels": self.spec.channels,
                },
            }
            for i in firsts
        ]

    def filters(self):
        """The first convolution's 2-D kernels as {layer, kernel_size, in_channels, count, shown, values}:
        ``values[f]`` is filter f as a (kh, kw, C) nested list (C: at most 3 input channels);
        None when the model has no 2-D convolution."""
        for layer in self.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None or getattr(layer, "rank", None) != 2 or type(layer).__name__ != "Conv2D":
                continue
            weights = np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel, dtype=np.float64)
            kh, kw, cin, count = weights.shape
            shown = weights[:, :, : min(cin, 3), :MAX_FILTERS]
            return {
                "layer": layer.name,
                "kernel_size": [kh, kw],
                "in_channels": cin,
                "count": count,
                "values": [shown[..., f].round(6).tolist() for f in range(shown.shape[-1])],
            }
        return None

    # ---- images ------------------------------------------------------------------------------
    def _store(self, x, source):
        """Keep image ``x`` (1, *shape) and return its id."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        digest = hashlib.sha256(repr(x.shape).encode() + x.tobytes()).hexdigest()[:16]
        x.flags.writeable = False
        with self._lock:
            if digest in self._images:
                self._images.move_to_end(digest)
                self._images[digest]["source"] = source
            else:
                self._images[digest] = {"x": x, "source": source, "results": {}}
                while len(self._images) > self.cache_size:
                    self._images.popitem(last=False)
        return digest

    def _entry(self, image_id):
        with self._lock:
            entry = self._images.get(image_id) if isinstance(image_id, str) else None
            if entry is None:
                raise ExplorerError(
                    404,
                    f"no image with id {image_id!r} is kept here (the explorer keeps the last "
                    f"{self.cache_size} images); load the image again. Received: id {image_id!r}",
                )
            self._images.move_to_end(image_id)
            return entry

    def _cached(self, image_id, key, compute):
        entry = self._entry(image_id)
        with self._lock:
            if key in entry["results"]:
                return entry["results"][key], True
        value = compute(entry["x"])  # outside the lock: other threads go on
        with self._lock:
            entry["results"].setdefault(key, value)
        return value, False

    def add_test_image(self, index):
        """Keep test image ``index`` (an int in [0, count)); its id."""
        count = 0 if self.test_x is None else len(self.test_x)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
            raise ExplorerError(
                404,
                f"test image index must be an integer in [0, {count}) "
                f"({self.test_title or 'this model has no test images'}). Received: {index!r}",
            )
        label = self.class_names[int(self.test_y[index])]
        return self._store(self.test_x[index : index + 1], f"test image {index} ({label})")

    def add_array(self, x, source):
        """Keep an image given as an array of the model's input shape, with or without the batch axis."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape == self.spec.shape:
            x = x[None]
        if x.shape != (1, *self.spec.shape):
            raise ExplorerError(
                400,
                f"an image must have the model's input shape {self.spec.shape}. Received: shape {x.shape}",
            )
        return self._store(x, source)

    def add_file(self, path, source):
        """Keep an image file (or .npy array) read as the model takes it (``read_for_model``)."""
        return self._store(read_for_model(os.fspath(path), self.spec, max_pixels=self.max_pixels), source)

    def add_upload(self, data: bytes, source="upload"):
        """Keep uploaded bytes decoded by convolve's image loader, with its pixel limit.

        The bytes go to a private temporary file (never named by the request) that is removed
        afterwards. Raises ExplorerError 415 for bytes that are not an image, 413 for an image
        above ``max_pixels``, 400 for an image whose values cannot be read.
        """
        from ..images import ImageTooLargeError

        if not data:
            raise ExplorerError(400, "expected an image file. Received: an empty file (0 bytes)")
        handle, path = tempfile.mkstemp(prefix="convolve-explore-", suffix=".upload")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            try:
                return self.add_file(path, source)
            except ImageTooLargeError as error:
                raise ExplorerError(413, str(error).replace(path, "upload")) from None
            except ValueError as error:
                text = str(error).replace(path, "upload")
                status = 415 if "not an image" in text else 400
                raise ExplorerError(status, text) from None
        finally:
            os.unlink(path)

    def image_pixels(self, x):
        """The image as the page draws it: base64 uint8 (H, W, C), 0..255."""
        sample = x[0].transpose(1, 2, 0) if self.spec.channels_first else x[0]
        return _b64(np.rint(np.clip(sample / self.spec.white, 0, 1) * 255))

    # ---- what the model computes ---------------------------------------------------------------
    def analyse(self, image_id):
        """The prediction and every layer's output for one kept image (cached)."""
        entry = self._entry(image_id)
        result, _ = self._cached(image_id, "analysis", self._analyse)
        return {"id": image_id, "source": entry["source"], **result}

    def _analyse(self, x):
        from ..viz.plots import feature_maps

        outputs = feature_maps(self.model, x, layers=self.layers)
        scores = self.model.predict(x, verbose=0)
        probs, _ = probabilities(scores, None)
        order = np.argsort(-probs[0], kind="stable")
        return {
            "image": {
                "data": self.image_pixels(x),
                "height": self.spec.height,
                "width": self.spec.width,
                "channels": self.spec.channels,
            },
            "prediction": [
                {"index": int(k), "name": self.class_names[k], "probability": float(probs[0, k])}
                for k in order
            ],
            "predicted": int(order[0]),
            "layers": [self._layer_maps(layer, outputs[layer.name]) for layer in self.layers],
        }

    def _layer_maps(self, layer, output):
        """One layer's output for the page: spatial maps (channels first) or a vector."""
        sample = np.asarray(output[0])
        if getattr(layer, "data_format", "channels_last") == "channels_first" and sample.ndim >= 2:
            sample = np.moveaxis(sample, 0, -1)
        if sample.ndim == 3:
            maps, kind = np.moveaxis(sample, -1, 0), "maps"  # (C, H, W)
        elif sample.ndim == 2:
            maps, kind = np.moveaxis(sample, -1, 0)[:, None, :], "maps"  # (C, 1, L)
        else:
            maps, kind = sample.reshape(1, 1, -1), "vector"
        channels = maps.shape[0]
        data, scale, signed = encode_maps(maps[:MAX_CHANNELS])
        return {
            "name": layer.name,
            "kind": kind,
            "channels": int(channels),
            "shown": int(min(channels, MAX_CHANNELS)),
            "height": int(maps.shape[1]),
            "width": int(maps.shape[2]),
            "data": data,
            "scale": scale,
            "signed": signed,
        }

    def _class(self, image_id, class_index):
        if class_index is None:
            return self.analyse(image_id)["predicted"]
        if (
            isinstance(class_index, bool)
            or not isinstance(class_index, (int, np.integer))
            or not (0 <= class_index < self.classes)
        ):
            raise ExplorerError(
                400, f"class must be an integer in [0, {self.classes}). Received: class={class_index!r}"
            )
        return int(class_index)

    def grad_cam(self, image_id, class_index=None, plus_plus=False):
        """Grad-CAM (Grad-CAM++ with ``plus_plus``) of the class (default: the predicted one) at the
        input's size, 0..255, with the server's time for computing it (``cached``: whether this
        answer came from the cache). Plain Grad-CAM is 0 everywhere when no position of the layer
        has a positive weighted sum (its ReLU), which the page says; Grad-CAM++ weighs only
        positive gradients."""
        k = self._class(image_id, class_index)
        plus_plus = bool(plus_plus)

        def compute(x):
            from ..viz.attribution import _cam_node, grad_cam

            start = time.perf_counter()
            cam = grad_cam(self.model, x, class_index=k, upsample=True, plus_plus=plus_plus)[0]
            node, _ = _cam_node(self.model, None, "grad_cam")
            data, scale, _ = encode_maps(cam[None])
            return {
                "map": data,
                "scale": scale,
                "layer": node.layer.name,
                "server_ms": (time.perf_counter() - start) * 1000,
            }

        result, cached = self._cached(image_id, ("grad_cam", k, plus_plus), compute)
        method = "Grad-CAM++" if plus_plus else "Grad-CAM"
        return {**result, "class": k, "method": method, "cached": cached}

    def saliency(self, image_id, class_index=None):
        """|d logit / d pixel| (the largest over channels) of the class, 0..255."""
        k = self._class(image_id, class_index)

        def compute(x):
            from ..viz.attribution import reduce_channels, saliency

            start = time.perf_counter()
            layout = "channels_first" if self.spec.channels_first else "channels_last"
            grads = reduce_channels(saliency(self.model, x, class_index=k)[0], "max_abs", layout)
            data, scale, _ = encode_maps(grads[None])
            return {"map": data, "scale": scale, "server_ms": (time.perf_counter() - start) * 1000}

        result, cached = self._cached(image_id, ("saliency", k), compute)
        return {**result, "class": k, "cached": cached}

    def explain(self, image_id, layer, row=None, col=None, channel=0):
        """One value's arithmetic (``viz.explain_unit``): for maps ``row`` and ``col`` (1-D maps:
        ``col``), for a vector output ``channel`` alone."""
        from ..viz.explain_unit import explain_unit

        names = [item.name for item in self.layers]
        if layer not in names:
            raise ExplorerError(
                404, f"the model has no layer {layer!r}; its layers are {names}. Received: {layer!r}"
            )
        shape = self.describe_layer(layer)
        if len(shape) == 3:
            position = (row, col)
        elif len(shape) == 2:
            position = (col,)
        else:
            position = None
        for name, value in (("row", row), ("col", col), ("channel", channel)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ExplorerError(400, f"{name} must be an integer. Received: {name}={value!r}")
        x = self._entry(image_id)["x"]
        try:
            unit = explain_unit(self.model, x[0], layer, position=position, channel=channel, print_fn=None)
        except (ValueError, TypeError) as error:
            raise ExplorerError(400, str(error)) from None
        return _unit_json(unit)

    def describe_layer(self, name):
        """A layer's output shape without the batch axis, channels last."""
        layer = next(item for item in self.layers if item.name == name)
        node = next(n for n in self.model._nodes if n.layer is layer)
        shape = list(self.model._propagate_shapes([self.model._inputs[0].shape])[id(node)][1:])
        if getattr(layer, "data_format", "channels_last") == "channels_first" and len(shape) >= 2:
            shape = shape[1:] + shape[:1]
        return shape


def _plain(value):
    """NumPy values and arrays as JSON-ready numbers and nested lists."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype == bool:
        return array.tolist()
    return np.asarray(array, dtype=np.float64).tolist()


def _unit_json(unit):
    """The fields of a UnitExplanation the page draws."""
    details = {}
    if "winner" in unit.details:
        details["winner"] = [int(v) for v in np.atleast_1d(unit.details["winner"])]
    if "count" in unit.details:
        details["count"] = int(unit.details["count"])
    if "channels" in unit.details:
        details["channels"] = [int(v) for v in unit.details["channels"]]
    if "channel_sums" in unit.details:
        details["channel_sums"] = _plain(unit.details["channel_sums"])
    if "top_terms" in unit.details:
        details["top_terms"] = [
            [int(np.ravel(i)[0]) if np.size(i) == 1 else str(i), float(a), float(w), float(p)]
            for i, a, w, p in unit.details["top_terms"]
        ]
        details["rest"] = float(unit.details.get("rest", 0.0))
    return {
        "layer": unit.layer,
        "layer_type": unit.layer_type,
        "kind": unit.kind,
        "position": [int(v) for v in unit.position],
        "channel": unit.channel,
        "value": unit.value,
        "model_value": unit.model_value,
        "source": unit.source,
        "inputs": _plain(unit.inputs),
        "weights": _plain(unit.weights),
        "products": _plain(unit.products),
        "padded": _plain(unit.padded),
        "total": unit.total,
        "bias": unit.bias,
        "pre_activation": unit.pre_activation,
        "activation": unit.activation,
        "details": details,
        "receptive_field": None
        if unit.receptive_field is None
        else [list(map(int, b)) for b in unit.receptive_field],
        "text": unit.text,
    }
