"""The explorer's server (convolve/web): every route through Starlette's TestClient, against the
library functions it stands on (model.predict, viz.feature_maps, viz.grad_cam, viz.saliency,
viz.explain_unit, convolve.data.model_inputs.read_for_model)."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("multipart")
pytest.importorskip("httpx")
pytest.importorskip("PIL")

from starlette.testclient import TestClient  # noqa: E402

from convolve import layers as L  # noqa: E402
from convolve import viz  # noqa: E402
from convolve.data.model_inputs import input_spec, read_for_model  # noqa: E402
from convolve.models import Sequential  # noqa: E402
from convolve.web import create_app  # noqa: E402
from convolve.web.app import ASSETS  # noqa: E402
from convolve.web.session import ExplorerSession  # noqa: E402
from tests.helpers import forged_png  # noqa: E402
from tests.test_threads import run_threads  # noqa: E402
from tests.web.common import bundled_test_images, codes, demo_model, expected_codes, write_png  # noqa: E402

STATIC = Path(__file__).resolve().parents[2] / "convolve" / "web" / "static"


@pytest.fixture(scope="module")
def model():
    return demo_model()


@pytest.fixture(scope="module")
def client(model):
    return TestClient(create_app(model))


@pytest.fixture(scope="module")
def images():
    return bundled_test_images()


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def test_the_model_is_described(client, model):
    info = ok(client.get("/api/model"))
    assert info["name"] == "fashion_mnist_subset_small"
    assert info["input"] == {"height": 28, "width": 28, "channels": 1} and info["drawable"] is True
    assert info["classes"] == model.class_names
    assert [(item["name"], item["type"], item["shape"]) for item in info["layers"]] == [
        ("conv2d", "Conv2D", [26, 26, 8]),
        ("max_pooling2d", "MaxPooling2D", [13, 13, 8]),
        ("conv2d_1", "Conv2D", [11, 11, 16]),
        ("max_pooling2d_1", "MaxPooling2D", [5, 5, 16]),
        ("flatten", "Flatten", [400]),
        ("dense", "Dense", [10]),
    ]
    kernel = model.layers[0].kernel.numpy()
    filters = info["filters"]
    assert filters["layer"] == model.layers[0].name and filters["count"] == 8 and filters["in_channels"] == 1
    np.testing.assert_allclose(np.moveaxis(np.array(filters["values"]), 0, -1), kernel, atol=1e-6)
    tests = info["test_images"]
    assert tests["count"] == 1000 and "Fashion-MNIST" in tests["title"]
    _, y = bundled_test_images()
    assert [s["label"] for s in tests["samples"]] == sorted(
        range(10), key=lambda k: np.flatnonzero(y == k)[0]
    )
    assert [s["index"] for s in tests["samples"]] == sorted(int(np.flatnonzero(y == k)[0]) for k in range(10))
    assert info["initial"] is False and info["max_upload_bytes"] == 10 * 1024 * 1024


def check_analysis(result, model, x):
    """The prediction and every layer's maps of ``result`` are the model's for x (1, 28, 28, 1)."""
    probs = model.predict(x, verbose=0)[0]
    assert [item["index"] for item in result["prediction"]] == list(np.argsort(-probs, kind="stable"))
    np.testing.assert_allclose(
        [item["probability"] for item in result["prediction"]], np.sort(probs)[::-1], rtol=1e-6
    )
    assert result["predicted"] == int(np.argmax(probs))
    assert [item["name"] for item in result["prediction"]] == [
        model.class_names[k] for k in np.argsort(-probs, kind="stable")
    ]
    maps = viz.feature_maps(model, x, layers=[layer.name for layer in model.layers])
    assert [layer["name"] for layer in result["layers"]] == list(maps)
    for layer in result["layers"]:
        output = maps[layer["name"]][0]
        channels_first = np.moveaxis(output, -1, 0) if output.ndim == 3 else output.reshape(1, 1, -1)
        assert (layer["channels"], layer["height"], layer["width"]) == channels_first.shape
        assert layer["kind"] == ("maps" if output.ndim == 3 else "vector")
        np.testing.assert_allclose(layer["scale"], np.abs(output).max(), rtol=1e-6)
        got = codes(layer["data"]).reshape(channels_first.shape).astype(int)
        assert np.abs(got - expected_codes(channels_first)).max() <= 1  # float32 vs float64 rounding
    pixels = codes(result["image"]["data"]).reshape(28, 28)
    np.testing.assert_array_equal(pixels, np.rint(x[0, :, :, 0] * 255).astype(np.uint8))


def test_a_test_image_is_analysed_as_the_model_computes(client, model, images):
    x, y = images
    result = ok(client.post("/api/test-images/7"))
    assert result["source"] == f"test image 7 ({model.class_names[y[7]]})"
    assert re.fullmatch(r"[0-9a-f]{16}", result["id"])
    check_analysis(result, model, x[7:8])
    assert ok(client.get(f"/api/images/{result['id']}")) == result  # kept, and answered again the same


def test_an_uploaded_png_is_read_as_convolve_predict_reads_it(client, model, images, tmp_path):
    x, _ = images
    path = write_png(tmp_path / "boot.png", x[3, :, :, 0])
    result = ok(client.post("/api/images", files={"file": ("boot.png", path.read_bytes(), "image/png")}))
    assert result["source"] == "upload"
    check_analysis(result, model, read_for_model(str(path), input_spec(model)))
    drawn = ok(
        client.post(
            "/api/images",
            files={"file": ("d.png", path.read_bytes(), "image/png")},
            data={"source": "drawing"},
        )
    )
    assert drawn["id"] == result["id"] and drawn["source"] == "drawing"


def test_a_large_colour_upload_is_resized_and_greyed(client, model, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)).save(path)
    result = ok(client.post("/api/images", files={"file": ("photo.jpg", path.read_bytes(), "image/jpeg")}))
    check_analysis(result, model, read_for_model(str(path), input_spec(model)))


def test_bad_uploads_get_clear_messages_and_the_server_goes_on(model, images, tmp_path):
    client = TestClient(create_app(model, max_upload_bytes=2000, max_pixels=10_000))
    x, _ = images
    good = write_png(tmp_path / "good.png", x[0, :, :, 0]).read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, size=(100, 100), dtype=np.uint8)
    big = tmp_path / "big.png"
    from PIL import Image

    Image.fromarray(noise).save(big)
    message = refused(
        client.post("/api/images", files={"file": ("big.png", big.read_bytes() * 10, "image/png")}), 413
    )
    assert "larger than the limit of 2,000 bytes" in message and "Received:" in message
    message = refused(
        client.post("/api/images", files={"file": ("big.png", big.read_bytes(), "image/png")}), 413
    )
    assert message.startswith("the upload is larger than the limit of 2,000 bytes. Received: ")
    bomb = Path(forged_png(tmp_path / "bomb.png", 200, 100))
    message = refused(
        client.post("/api/images", files={"file": ("bomb.png", bomb.read_bytes(), "image/png")}), 413
    )
    assert "200x100" in message and "max_pixels=10,000" in message and str(tmp_path) not in message
    message = refused(
        client.post("/api/images", files={"file": ("a.txt", b"not an image", "text/plain")}), 415
    )
    assert "not an image" in message and "convolve-explore-" not in message
    message = refused(client.post("/api/images", files={"other": ("a.png", good, "image/png")}), 400)
    assert message == "expected the image file in the form field 'file'. Received: fields ['other']"
    message = refused(client.post("/api/images", content=good, headers={"content-type": "image/png"}), 400)
    assert "multipart/form-data" in message and "'image/png'" in message
    message = refused(client.post("/api/images", files={"file": ("e.png", b"", "image/png")}), 400)
    assert message == "expected an image file. Received: an empty file (0 bytes)"
    ok(client.post("/api/images", files={"file": ("good.png", good, "image/png")}))


def test_a_declared_size_above_the_limit_is_refused_before_reading(model):
    client = TestClient(create_app(model, max_upload_bytes=1000))
    message = refused(
        client.post(
            "/api/images",
            content=b"x" * 10,
            headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(10**9)},
        ),
        413,
    )
    assert message == "the upload is larger than the limit of 1,000 bytes. Received: 1,000,000,000 bytes"


def test_requests_naming_nothing_known_are_refused(client, model):
    message = refused(client.post("/api/test-images/1000"), 404)
    assert (
        message.startswith("test image index must be an integer in [0, 1000)") and "Received: 1000" in message
    )
    refused(client.post("/api/test-images/-1"), 404)  # not an int route: no such page
    refused(client.post("/api/test-images/x"), 404)
    assert refused(client.get("/api/images/0123456789abcdef"), 404).startswith(
        "no image with id '0123456789abcdef' is kept here"
    )
    refused(client.get("/api/images/..%2F..%2Fetc"), 404)  # decoded to a path no route has
    assert refused(client.get("/api/images/..etc.passwd"), 404) == (
        "an image id is 16 hex digits, as the server gave it. Received: '..etc.passwd'"
    )
    image = ok(client.post("/api/test-images/0"))["id"]
    message = refused(client.get(f"/api/images/{image}/explain?layer=nope&row=0&col=0"), 404)
    assert message.startswith("the model has no layer 'nope'; its layers are ['conv2d',")
    assert refused(client.get(f"/api/images/{image}/explain"), 400) == (
        "the query parameter 'layer' is required (a layer's name). Received: none"
    )
    assert refused(client.get(f"/api/images/{image}/explain?layer=conv2d&row=a&col=0"), 400) == (
        "the query parameter 'row' must be an integer. Received: 'a'"
    )
    assert refused(client.get(f"/api/images/{image}/explain?layer=conv2d&row=0&col=99"), 400) == (
        "explain_unit: the `position` argument must lie inside the output of Conv2D 'conv2d', whose "
        "positions are 0..25, 0..25. Received: position=(0, 99)"
    )
    assert refused(client.get(f"/api/images/{image}/grad-cam?class=10"), 400) == (
        "class must be an integer in [0, 10). Received: class=10"
    )
    assert refused(client.get("/api/nothing"), 404) == "no such page. Received: GET /api/nothing"
    assert refused(client.get("/api/images"), 405) == "/api/images takes POST. Received: GET"
    ok(client.get("/api/model"))  # and the server goes on


def test_static_assets_come_from_the_fixed_table(client):
    for url, (name, kind) in ASSETS.items():
        response = client.get(url)
        assert response.status_code == 200 and response.headers["content-type"] == kind
        assert response.content == (STATIC / name).read_bytes()
        assert "default-src 'self'" in response.headers["content-security-policy"]
    for url in [
        "/static/index.html",
        "/static/../app.py",
        "/static/session.py",
        "/static/%2e%2e/app.py",
        "/index.html",
        "/static/",
    ]:
        assert client.get(url).status_code == 404, url


def test_the_page_references_nothing_outside_the_server():
    """No http(s) or protocol-relative URL, and no import from elsewhere, in any page asset."""
    for name, _ in ASSETS.values():
        text = (STATIC / name).read_text()
        assert not re.search(r"https?:", text), name
        assert not re.search(r"""(src|href)\s*=\s*["']//""", text), name
        assert not re.search(r"""url\(\s*["']?(//|https?:)""", text), name
        assert not re.search(r"""\bimport\s*\(|@import""", text), name
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"""(?:src|href)="([^"]+)\"""", html) == [
        "data:,",
        "/static/explorer.css",
        "/static/explorer.js",
    ]


def test_explain_gives_the_value_the_model_computes(client, model, images):
    x, _ = images
    result = ok(client.post("/api/test-images/12"))
    maps = viz.feature_maps(model, x[12:13], layers=[layer.name for layer in model.layers])
    for layer, query, where in [
        ("conv2d", "row=4&col=9&channel=3", (0, 4, 9, 3)),
        ("max_pooling2d", "row=6&col=2&channel=5", (0, 6, 2, 5)),
        ("conv2d_1", "row=10&col=0&channel=15", (0, 10, 0, 15)),
        ("max_pooling2d_1", "row=4&col=4&channel=0", (0, 4, 4, 0)),
        ("dense", "channel=7", (0, 7)),
    ]:
        unit = ok(client.get(f"/api/images/{result['id']}/explain?layer={layer}&{query}"))
        assert unit["layer"] == layer
        np.testing.assert_allclose(unit["value"], maps[layer][where], rtol=1e-5, atol=1e-7)
        assert unit["model_value"] == pytest.approx(float(maps[layer][where]), rel=1e-6)
        reference = viz.explain_unit(
            model,
            x[12],
            layer,
            position=None if layer == "dense" else where[1:3],
            channel=where[-1],
            print_fn=None,
        )
        assert unit["receptive_field"] == [list(box) for box in reference.receptive_field]
        assert unit["text"].split("(difference")[0] == reference.text.split("(difference")[0]
    conv = ok(client.get(f"/api/images/{result['id']}/explain?layer=conv2d&row=0&col=0&channel=1"))
    assert conv["kind"] == "convolution" and np.array(conv["inputs"]).shape == (3, 3, 1)
    np.testing.assert_allclose(
        np.array(conv["products"]), np.array(conv["inputs"]) * np.array(conv["weights"])
    )
    assert conv["receptive_field"] == [[0, 3], [0, 3]] and conv["activation"] == "relu"
    message = refused(client.get(f"/api/images/{result['id']}/explain?layer=flatten&channel=3"), 400)
    assert message.startswith("explain_unit: layer Flatten 'flatten' of type Flatten is not traced")


def test_grad_cam_and_saliency_are_the_viz_functions(client, model, images):
    x, _ = images
    result = ok(client.post("/api/test-images/21"))
    second = result["prediction"][1]["index"]
    for k in (None, second):
        query = "" if k is None else f"?class={k}"
        expected_class = result["predicted"] if k is None else k
        cam = ok(client.get(f"/api/images/{result['id']}/grad-cam{query}"))
        assert cam["class"] == expected_class and cam["layer"] == "max_pooling2d_1"
        reference = viz.grad_cam(model, x[21], class_index=expected_class, upsample=True)
        assert k is not None or reference.max() > 0
        np.testing.assert_allclose(cam["scale"], reference.max(), rtol=1e-5)
        assert np.abs(codes(cam["map"]).reshape(28, 28).astype(int) - expected_codes(reference)).max() <= 1
        sal = ok(client.get(f"/api/images/{result['id']}/saliency{query}"))
        reference = viz.reduce_channels(viz.saliency(model, x[21], class_index=expected_class))
        assert np.abs(codes(sal["map"]).reshape(28, 28).astype(int) - expected_codes(reference)).max() <= 1
        again = ok(client.get(f"/api/images/{result['id']}/grad-cam{query}"))
        assert again["cached"] is True and again["map"] == cam["map"] and again["method"] == "Grad-CAM"
        plus = ok(
            client.get(f"/api/images/{result['id']}/grad-cam?plus=1" + ("" if k is None else f"&class={k}"))
        )
        reference = viz.grad_cam(model, x[21], class_index=expected_class, upsample=True, plus_plus=True)
        assert plus["method"] == "Grad-CAM++" and plus["cached"] is False and reference.max() > 0
        assert np.abs(codes(plus["map"]).reshape(28, 28).astype(int) - expected_codes(reference)).max() <= 1
    assert refused(client.get(f"/api/images/{result['id']}/grad-cam?plus=2"), 400) == (
        "the query parameter 'plus' must be 0 or 1 (Grad-CAM++). Received: 2"
    )


def test_requests_from_many_threads_give_what_one_thread_gives(model):
    """Sixteen threads at once, each posting a test image, then asking Grad-CAM and an explanation,
    through a cache smaller than the number of images (entries evicted while others read)."""
    client = TestClient(create_app(model, cache_size=12))
    solo = TestClient(create_app(model))
    indices = list(range(30, 46))
    expected = {}
    for i in indices:
        image = ok(solo.post(f"/api/test-images/{i}"))
        expected[i] = (
            image["prediction"],
            ok(solo.get(f"/api/images/{image['id']}/grad-cam"))["map"],
            ok(solo.get(f"/api/images/{image['id']}/explain?layer=conv2d_1&row=5&col=5&channel=3"))["value"],
        )
    got = {}
    barrier = threading.Barrier(len(indices))

    def work(i):
        barrier.wait()
        image = ok(client.post(f"/api/test-images/{i}"))
        for _ in range(50):  # the image may be evicted by the others: post it again then
            cam = client.get(f"/api/images/{image['id']}/grad-cam")
            unit = client.get(f"/api/images/{image['id']}/explain?layer=conv2d_1&row=5&col=5&channel=3")
            if cam.status_code == unit.status_code == 200:
                break
            assert {cam.status_code, unit.status_code} <= {200, 404}
            image = ok(client.post(f"/api/test-images/{i}"))
        got[i] = (image["prediction"], cam.json()["map"], unit.json()["value"])

    run_threads(*(functools.partial(work, i) for i in indices))
    assert got == expected


def test_the_cache_keeps_the_last_images(model):
    session = ExplorerSession(model, cache_size=2)
    first, second, third = (session.add_test_image(i) for i in (0, 1, 2))
    assert len({first, second, third}) == 3
    with pytest.raises(Exception, match="no image with id") as caught:
        session.analyse(first)
    assert caught.value.status == 404
    assert session.analyse(third)["source"].startswith("test image 2 (")
    x = session.test_x[5].copy()
    before = x.copy()
    image = session.add_array(x, "array")
    assert session.add_array(x[None], "again") == image
    np.testing.assert_array_equal(x, before)  # the caller's array is not changed


def test_an_image_from_the_command_line_is_shown_first(model, images, tmp_path):
    x, _ = images
    path = write_png(tmp_path / "first.png", x[9, :, :, 0])
    client = TestClient(create_app(model, image=path))
    assert ok(client.get("/api/model"))["initial"] is True
    result = ok(client.get("/api/initial"))
    assert result["source"] == "the image given on the command line"
    check_analysis(result, model, read_for_model(str(path), input_spec(model)))
    npy = tmp_path / "first.npy"
    np.save(npy, x[9])
    assert ok(TestClient(create_app(model, image=npy)).get("/api/initial"))["id"] == result["id"]
    message = refused(TestClient(create_app(model)).get("/api/initial"), 404)
    assert (
        message
        == "expected an image given on the command line (convolve explore MODEL IMAGE). Received: none"
    )


@pytest.mark.parametrize(
    "name, shape, offered",
    [
        ("fashion_mnist_small", (28, 28, 1), 1000),
        ("my_model", (28, 28, 1), 1000),  # the model does not say: 28x28 grey gets Fashion-MNIST
        ("mnist_small", (28, 28, 1), 0),  # it says MNIST: not Fashion-MNIST's images
        ("fashion_mnist_subset_small", (32, 32, 1), 0),
        ("cifar10_small", (32, 32, 3), 0),
    ],
)
def test_which_test_images_a_model_is_offered(name, shape, offered):
    model = demo_model(name=name, shape=shape)
    info = ok(TestClient(create_app(model)).get("/api/model"))
    assert info["test_images"]["count"] == offered
    assert info["drawable"] is (shape[-1] == 1)
    if not offered:
        assert info["test_images"]["samples"] == [] and info["test_images"]["title"] is None


def test_a_colour_model_takes_colour_uploads(tmp_path):
    from PIL import Image

    model = demo_model(name="cifar10_small", shape=(32, 32, 3))
    model.class_names = None
    client = TestClient(create_app(model))
    assert ok(client.get("/api/model"))["classes"] == [f"class {i}" for i in range(10)]
    path = tmp_path / "c.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    result = ok(client.post("/api/images", files={"file": ("c.png", path.read_bytes(), "image/png")}))
    x = read_for_model(str(path), input_spec(model))
    np.testing.assert_array_equal(codes(result["image"]["data"]).reshape(32, 32, 3), np.rint(x[0] * 255))
    assert ok(client.get(f"/api/images/{result['id']}/grad-cam"))["class"] == result["predicted"]


def test_models_the_explorer_cannot_show_are_refused_with_their_shape():
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(2, 3)])
    with pytest.raises(
        ValueError,
        match=r"^the explorer shows models with one image input and one output of "
        r"class scores: the model must output one score per class, "
        r"\(batch, classes\). Received: output shape \(None, 6, 6, 2\)$",
    ):
        create_app(model)
    model = Sequential([L.Input((10,)), L.Dense(3)])
    with pytest.raises(ValueError, match=r"Received: input shape \(None, 10\)$"):
        create_app(model)


def test_an_error_inside_a_handler_is_a_json_500_and_the_server_goes_on(model, monkeypatch):
    app = create_app(model)
    client = TestClient(app, raise_server_exceptions=False)
    image = ok(client.post("/api/test-images/0"))["id"]

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.session, "saliency", broken)
    assert refused(client.get(f"/api/images/{image}/saliency"), 500) == (
        "the explorer failed on this request: RuntimeError: a bug"
    )
    ok(client.get(f"/api/images/{image}/grad-cam"))


def test_serve_binds_to_localhost_by_default_and_answers_loopback_names_only(model):
    import inspect

    from convolve.web import allowed_hosts, serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]
    assert allowed_hosts("0.0.0.0") == ["*"]
    app = create_app(model, allowed_hosts=allowed_hosts("127.0.0.1"))
    assert TestClient(app, base_url="http://rebound.example.com:8000").get("/api/model").status_code == 400
    for name in ("127.0.0.1:8000", "localhost:8000"):
        assert TestClient(app, base_url=f"http://{name}").get("/api/model").status_code == 200


@pytest.mark.parametrize(
    "platform, environ, expected",
    [
        ("linux", {}, False),
        ("linux", {"DISPLAY": ":0"}, True),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, True),
        ("linux", {"DISPLAY": ""}, False),
        ("darwin", {}, True),
        ("win32", {}, True),
        ("freebsd14", {}, False),
    ],
)
def test_the_browser_is_opened_only_on_a_desktop(platform, environ, expected):
    from convolve.web import has_desktop

    assert has_desktop(platform, environ) is expected


def test_import_convolve_loads_neither_the_explorer_nor_starlette():
    code = (
        "import sys, convolve, convolve.viz, convolve.cli; convolve.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'multipart') "
        "or m.startswith('convolve.web')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert out.strip() == "[]"


def test_a_channels_first_model_is_shown_channels_last_and_explained_at_the_same_place(images):
    """A model that reads (N, C, H, W), as one imported from PyTorch: test images and uploads are
    given to it channels first, its maps are drawn channels last, and a clicked (row, col) is the
    same unit of its own output."""
    from convolve.layers import clear_session
    from convolve.utils import set_random_seed

    clear_session()
    set_random_seed(3)
    model = Sequential(
        [
            L.Input((1, 28, 28)),
            L.Conv2D(4, 3, activation="relu", data_format="channels_first"),
            L.MaxPooling2D(data_format="channels_first"),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ]
    )
    client = TestClient(create_app(model))
    assert ok(client.get("/api/model"))["test_images"]["count"] == 1000
    x, _ = images
    result = ok(client.post("/api/test-images/4"))
    sample = np.moveaxis(x[4:5], -1, 1)  # (1, 1, 28, 28)
    np.testing.assert_allclose(
        [p["probability"] for p in result["prediction"]],
        np.sort(model.predict(sample, verbose=0)[0])[::-1],
        rtol=1e-6,
    )
    maps = viz.feature_maps(model, sample, layers=["conv2d"])["conv2d"][0]  # (4, 26, 26)
    conv = result["layers"][0]
    assert (conv["channels"], conv["height"], conv["width"]) == (4, 26, 26)
    got = codes(conv["data"]).reshape(4, 26, 26).astype(int)
    assert np.abs(got - expected_codes(maps)).max() <= 1
    unit = ok(client.get(f"/api/images/{result['id']}/explain?layer=conv2d&row=7&col=20&channel=2"))
    assert unit["value"] == pytest.approx(float(maps[2, 7, 20]), rel=1e-5, abs=1e-7)
    assert unit["receptive_field"] == [[7, 10], [20, 23]]
    cam = ok(client.get(f"/api/images/{result['id']}/grad-cam?plus=1"))
    reference = viz.grad_cam(model, sample, upsample=True, plus_plus=True, class_index=result["predicted"])[0]
    assert np.abs(codes(cam["map"]).reshape(28, 28).astype(int) - expected_codes(reference)).max() <= 1
    assert np.array_equal(codes(result["image"]["data"]).reshape(28, 28), np.rint(x[4, :, :, 0] * 255))
