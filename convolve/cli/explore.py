"""``convolve explore MODEL [IMAGE]``: the explorer, a local web page showing what a model sees
(``convolve.web``): its feature maps, filters, prediction, saliency and Grad-CAM, and the
arithmetic of any value clicked. Starlette and uvicorn are imported only when it runs.
"""

from __future__ import annotations

import socket

from ._common import CLIError, add_command, existing_file, positive_int

DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 10
DEFAULT_MAX_PIXELS = 25_000_000


def register(sub, parents):
    e = add_command(
        sub,
        "explore",
        run_explore,
        parents=parents,
        help="a local web page showing what a model sees: feature maps, filters, saliency, Grad-CAM",
        description=(
            "Serves a page for MODEL (any file convolve reads: .safetensors, .keras, .h5, .onnx) on this "
            "machine: one panel per layer with its feature maps, the first layer's filters, the prediction, "
            "saliency and Grad-CAM overlays; click a value of a map to see its arithmetic (patch, kernel, "
            "products, sum, bias, activation) and its receptive field on the image. Images come from an "
            "upload, a drawing (grey models) or the test images of the model's dataset (the bundled "
            "Fashion-MNIST test images for Fashion-MNIST models and unlabelled 28x28 grey ones). Binds to "
            "127.0.0.1: only this machine can reach it unless --host says otherwise. Needs "
            'pip install "convolve[web]".'
        ),
        examples=[
            "convolve explore convolve-demo/model.safetensors",
            "convolve explore model.safetensors boot.png --port 8080 --no-browser",
        ],
    )
    e.add_argument("model", metavar="MODEL", help="a saved model file")
    e.add_argument("image", metavar="IMAGE", nargs="?", help="an image file (or .npy) to show first")
    e.add_argument("--port", type=positive_int, default=DEFAULT_PORT, help="the port to listen on")
    e.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 lets other machines reach the page (no password!)",
    )
    e.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    e.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=DEFAULT_MAX_UPLOAD_MB,
        metavar="MB",
        help="uploads larger than this are refused (HTTP 413)",
    )
    e.add_argument(
        "--max-pixels",
        type=positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help="uploaded images with more pixels (width x height) are refused from their header",
    )


def _check_port(host: str, port: int) -> None:
    """CLIError when ``host:port`` cannot be listened on (in use, or not an address of this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise CLIError(
            f"--host must be an address of this machine. Received: --host {host} ({error})"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise CLIError(
                f"cannot listen on {host}:{port} ({error.strerror}); choose another port with --port. "
                f"Received: --host {host} --port {port}"
            ) from None


def run_explore(args) -> int:
    existing_file(args.model, "model file")
    if args.image is not None:
        existing_file(args.image, "image")
    from ..web import check_installed

    check_installed()
    _check_port(args.host, args.port)
    from ..web import serve

    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{args.port}/"
    print(f"convolve explore: {args.model} at {url} (Ctrl-C stops)", flush=True)
    serve(
        args.model,
        image=args.image,
        host=args.host,
        port=args.port,
        open_browser=not args.no_browser,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        max_pixels=args.max_pixels,
    )
    return 0
