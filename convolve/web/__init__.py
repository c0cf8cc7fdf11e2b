"""The explorer: a local web page that shows what a model sees (``convolve explore MODEL``).

    from convolve.web import create_app, serve
    serve("convolve-demo/model.safetensors", port=8000)       # http://127.0.0.1:8000/

One panel per layer with its feature maps, the first layer's filters, the prediction, saliency
and Grad-CAM overlays, and, for a clicked value of a map, its arithmetic and its receptive field
on the input (``convolve.viz.explain_unit``). Images come from an upload, a drawing (grey
models) or the test images of the model's dataset. ``session.py`` computes (no web framework);
``app.py`` is the Starlette application; ``static/`` holds the page (plain JavaScript, no build
step, nothing fetched from outside the server).

Needs ``pip install "convolve[web]"`` (Starlette, uvicorn, python-multipart, Pillow). Nothing in
convolve imports this package except the command line, so ``import convolve`` never loads
Starlette.
"""

from __future__ import annotations

import importlib.util

#: the packages the explorer needs: (module, what pip installs)
REQUIRED = (
    ("starlette", "starlette"),
    ("uvicorn", "uvicorn"),
    ("multipart", "python-multipart"),
    ("PIL", "pillow"),
)


def check_installed():
    """ImportError naming ``pip install "convolve[web]"`` when a package the explorer needs is missing."""
    missing = [name for module, name in REQUIRED if importlib.util.find_spec(module) is None]
    if missing:
        raise ImportError(
            f'the explorer needs {", ".join(missing)}: pip install "convolve[web]". '
            f"Received: {', '.join(missing)} not installed"
        )


def load(model):
    """A model object as it is, or the model in a file (``convolve.saving.load_model``)."""
    if hasattr(model, "predict"):
        return model
    from ..saving import load_model

    return load_model(model)


def create_app(model, image=None, **options):
    """The Starlette application exploring ``model`` (a model or a model file); see ``app.create_app``."""
    check_installed()
    from .app import create_app as make

    return make(load(model), image=image, **options)


def allowed_hosts(host):
    """The Host headers a server listening on ``host`` answers: the loopback names for a loopback
    address (a DNS name rebound to 127.0.0.1 by another site is refused), any for 0.0.0.0 or ::."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({host, "127.0.0.1", "localhost", "::1"})


def has_desktop(platform=None, environ=None):
    """Whether a graphical browser can open here: macOS and Windows, or a Linux/BSD session with
    an X or Wayland display. Without one, Python's ``webbrowser`` would start a text browser
    (lynx, w3m) in the terminal the server prints to, so the page is not opened; its URL is
    printed."""
    import os
    import sys

    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def serve(model, image=None, host="127.0.0.1", port=8000, open_browser=False, log_level="warning", **options):
    """Serve the explorer for ``model`` with uvicorn until Ctrl-C (binds to 127.0.0.1 by default).

    ``open_browser`` opens the page in the default browser once the server listens, where there
    is a desktop to show it (``has_desktop``). ``options``: ``max_upload_bytes``, ``max_pixels``,
    ``cache_size``.
    """
    app = create_app(model, image=image, allowed_hosts=allowed_hosts(host), **options)
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    server = uvicorn.Server(config)
    if open_browser and has_desktop():
        import threading
        import webbrowser

        def open_when_started():
            import time

            for _ in range(200):
                if server.started:
                    webbrowser.open(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/")
                    return
                time.sleep(0.05)

        threading.Thread(target=open_when_started, daemon=True).start()
    server.run()
