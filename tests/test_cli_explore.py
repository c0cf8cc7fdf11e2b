"""``convolve explore MODEL [IMAGE]`` (convolve/cli/explore.py): its arguments, what it hands to
``convolve.web.serve``, its one-line errors, and the demo's model opened in the explorer."""

from __future__ import annotations

import socket

import pytest

from convolve.cli import build_parser, main
from tests.web.common import demo_model

pytest.importorskip("safetensors")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    demo_model().save(path)
    return path


@pytest.fixture
def served(monkeypatch):
    """Replaces convolve.web.serve: records what it was called with."""
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    import convolve.web

    calls = []
    monkeypatch.setattr(convolve.web, "serve", lambda model, **options: calls.append((model, options)))
    return calls


def test_the_defaults_bind_to_localhost():
    args = build_parser().parse_args(["explore", "model.safetensors"])
    assert (args.host, args.port, args.no_browser, args.image) == ("127.0.0.1", 8000, False, None)
    assert (args.max_upload_mb, args.max_pixels) == (10, 25_000_000)


def test_explore_serves_the_model_with_its_options(capsys, saved, served, tmp_path):
    port = free_port()
    image = tmp_path / "x.npy"
    image.write_bytes(b"")
    code, out, err = run(
        capsys,
        "explore",
        saved,
        image,
        "--port",
        port,
        "--no-browser",
        "--max-upload-mb",
        2,
        "--max-pixels",
        1000,
    )
    assert (code, err) == (0, "")
    assert out == f"convolve explore: {saved} at http://127.0.0.1:{port}/ (Ctrl-C stops)\n"
    assert served == [
        (
            str(saved),
            {
                "image": str(image),
                "host": "127.0.0.1",
                "port": port,
                "open_browser": False,
                "max_upload_bytes": 2 * 1024 * 1024,
                "max_pixels": 1000,
            },
        )
    ]


def test_a_port_in_use_is_one_line(capsys, saved, served):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run(capsys, "explore", saved, "--port", port)
    assert code == 1 and out == "" and served == []
    assert err == (
        f"convolve explore: error: cannot listen on 127.0.0.1:{port} (Address already in use); choose "
        f"another port with --port. Received: --host 127.0.0.1 --port {port}\n"
    )


def test_missing_files_and_packages_are_one_line(capsys, saved, served, monkeypatch, tmp_path):
    code, _, err = run(capsys, "explore", tmp_path / "none.safetensors")
    assert (
        code == 1
        and err == f"convolve explore: error: no such model file: '{tmp_path / 'none.safetensors'}'\n"
    )
    code, _, err = run(capsys, "explore", saved, tmp_path / "none.png")
    assert code == 1 and err == f"convolve explore: error: no such image: '{tmp_path / 'none.png'}'\n"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    code, _, err = run(capsys, "explore", saved)
    assert code == 1 and err == (
        'convolve explore: error: the explorer needs uvicorn: pip install "convolve[web]". '
        "Received: uvicorn not installed\n"
    )
    assert served == []


def test_a_model_that_is_not_an_image_classifier_is_one_line(capsys, tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from convolve import layers as L
    from convolve.models import Sequential

    path = tmp_path / "vector.safetensors"
    Sequential([L.Input((10,)), L.Dense(3)]).save(path)
    code, _, err = run(capsys, "explore", path, "--port", free_port(), "--no-browser")
    assert code == 1
    assert err.startswith(
        "convolve explore: error: the explorer shows models with one image input and one "
        "output of class scores: the model must take one batch of images"
    )


def test_the_demo_suggests_the_explorer_and_its_model_opens_there(capsys, tmp_path):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from convolve.web import create_app

    code, out, _ = run(capsys, "demo", "--out", tmp_path / "demo", "--epochs", 1, "--limit", 64)
    assert code == 0
    model = tmp_path / "demo" / "model.safetensors"
    assert out.endswith(f"   convolve explore {model}\n")
    client = TestClient(create_app(str(model)))
    info = client.get("/api/model").json()
    assert info["classes"][9] == "Ankle boot" and info["test_images"]["count"] == 1000
    result = client.post("/api/test-images/0").json()
    assert [layer["name"] for layer in result["layers"]] == [layer["name"] for layer in info["layers"]]
