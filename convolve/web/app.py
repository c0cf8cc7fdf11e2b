"""The explorer's web application: Starlette routes around an :class:`ExplorerSession`.

Routes (every answer of /api is JSON; an error is ``{"error": message}`` with its status):

    GET  /                                  the page (static/index.html)
    GET  /static/explorer.js, .css          the page's script and style (ASSETS: a fixed table)
    GET  /api/model                         the model: layers, classes, first filters, test images
    GET  /api/initial                       the image given on the command line, analysed (404: none)
    POST /api/test-images/{index:int}       keep test image ``index``; its analysis
    POST /api/images                        keep an uploaded image (multipart field ``file``); its analysis
    GET  /api/images/{id}                   a kept image's analysis (prediction and every layer's maps)
    GET  /api/images/{id}/grad-cam?class=K&plus=1   Grad-CAM (++) overlay (default: the predicted class)
    GET  /api/images/{id}/saliency?class=K  saliency overlay
    GET  /api/images/{id}/explain?layer=NAME&row=R&col=C&channel=K   one value's arithmetic

**Nothing from a request names a file.** Static assets are read once from the package into a
table when the app is made, and each has its own route; test images are chosen by an integer;
kept images by the hex id the server gave them; uploads are written to a temporary file of
the server's own naming and decoded by ``convolve.images`` with its pixel limit.

**Limits.** An upload larger than ``max_upload_bytes`` is refused with 413 from its
Content-Length header, or, without one, as soon as the body read so far passes the limit, before
it is parsed; a file that is not an image gets 415; a request with no ``file`` field 400. Every
error is a JSON message that the page shows, and the server goes on serving.

**Threads.** Handlers that compute are plain functions, which Starlette runs on its thread
pool, so several requests compute at once; the session's cache has its own lock.
"""

from __future__ import annotations

import re
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .session import ExplorerError, ExplorerSession

#: uploads larger than this (bytes) are refused, by default
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: multipart framing allowed beyond the file's own bytes
FORM_OVERHEAD = 64 * 1024
#: URL path -> (file in convolve/web/static, content type): the only files the server sends
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "/static/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
IMAGE_ID = re.compile(r"[0-9a-f]{16}")
#: sent with every page asset: no script, style or image from anywhere but this server
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def read_assets():
    """{URL path: (bytes, content type)} read from the package's static folder."""
    folder = resources.files(__package__).joinpath("static")
    return {url: (folder.joinpath(name).read_bytes(), kind) for url, (name, kind) in ASSETS.items()}


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _int_param(request, name, required=True):
    text = request.query_params.get(name)
    if text is None or text == "":
        if required:
            raise ExplorerError(400, f"the query parameter {name!r} is required (an integer). Received: none")
        return None
    try:
        return int(text)
    except ValueError:
        raise ExplorerError(
            400, f"the query parameter {name!r} must be an integer. Received: {text!r}"
        ) from None


def _image_id(request):
    image_id = request.path_params["image_id"]
    if not IMAGE_ID.fullmatch(image_id):
        raise ExplorerError(
            404, f"an image id is 16 hex digits, as the server gave it. Received: {image_id!r}"
        )
    return image_id


async def _limited_body(request, limit):
    """The request's body, refused (413) once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    too_large = f"the upload is larger than the limit of {limit:,} bytes. Received: "
    if declared is not None and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise ExplorerError(413, too_large + f"{int(declared):,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + FORM_OVERHEAD:
            raise ExplorerError(413, too_large + f"more than {size:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _uploaded_file(request, limit):
    """The bytes of the multipart field ``file``, checked against ``limit``."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise ExplorerError(
            400,
            f"expected a multipart/form-data upload with the image in the field 'file'. Received: "
            f"content type {kind or 'none'!r}",
        )
    body = await _limited_body(request, limit)
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except HTTPException as error:
        raise ExplorerError(400, f"the upload could not be read as a form ({error.detail})") from None
    item = form.get("file")
    if not isinstance(item, UploadFile):
        raise ExplorerError(
            400, f"expected the image file in the form field 'file'. Received: fields {list(form)}"
        )
    data = await item.read()
    await form.close()
    if len(data) > limit:
        raise ExplorerError(
            413, f"the upload is larger than the limit of {limit:,} bytes. Received: {len(data):,} bytes"
        )
    source = form.get("source")
    return data, source if source in ("upload", "drawing") else "upload"


def create_app(model, image=None, max_upload_bytes=MAX_UPLOAD_BYTES, allowed_hosts=None, **session_options):
    """The Starlette app exploring ``model`` (a model object, or a ``ExplorerSession``).

    Args:
        model: the model (Sequential or functional, one image input, class scores out).
        image: an image file (or .npy) to show first; None shows the first test image.
        max_upload_bytes: uploads above this size get 413.
        allowed_hosts: the Host headers answered (Starlette's TrustedHostMiddleware; others get
            400), so that a web page elsewhere cannot reach a server on 127.0.0.1 through a DNS
            name it rebinds there; None answers any (``serve`` passes the loopback names).
        session_options: passed to :class:`ExplorerSession` (``max_pixels``, ``cache_size``).
    """
    session = model if isinstance(model, ExplorerSession) else ExplorerSession(model, **session_options)
    initial = None
    if image is not None:
        from ..data.model_inputs import read_for_model

        initial = read_for_model(str(image), session.spec, max_pixels=session.max_pixels)
    assets = read_assets()

    def asset(request):
        body, kind = assets[request.url.path if request.url.path in assets else "/"]
        return Response(body, media_type=kind, headers=SECURITY_HEADERS)

    def model_info(request):
        return JSONResponse(
            {**session.describe(), "max_upload_bytes": max_upload_bytes, "initial": initial is not None}
        )

    def initial_image(request):
        if initial is None:
            raise ExplorerError(
                404,
                "expected an image given on the command line (convolve explore MODEL IMAGE). Received: none",
            )
        return JSONResponse(
            session.analyse(session.add_array(initial, "the image given on the command line"))
        )

    def test_image(request):
        return JSONResponse(session.analyse(session.add_test_image(request.path_params["index"])))

    async def upload(request):
        data, source = await _uploaded_file(request, max_upload_bytes)
        return JSONResponse(
            await run_in_threadpool(lambda: session.analyse(session.add_upload(data, source)))
        )

    def analysis(request):
        return JSONResponse(session.analyse(_image_id(request)))

    def grad_cam(request):
        plus = _int_param(request, "plus", required=False)
        if plus not in (None, 0, 1):
            raise ExplorerError(
                400, f"the query parameter 'plus' must be 0 or 1 (Grad-CAM++). Received: {plus}"
            )
        return JSONResponse(
            session.grad_cam(_image_id(request), _int_param(request, "class", required=False), plus_plus=plus)
        )

    def saliency(request):
        return JSONResponse(
            session.saliency(_image_id(request), _int_param(request, "class", required=False))
        )

    def explain(request):
        layer = request.query_params.get("layer")
        if not layer:
            raise ExplorerError(
                400, "the query parameter 'layer' is required (a layer's name). Received: none"
            )
        return JSONResponse(
            session.explain(
                _image_id(request),
                layer,
                row=_int_param(request, "row", required=False),
                col=_int_param(request, "col", required=False),
                channel=_int_param(request, "channel", required=False) or 0,
            )
        )

    async def explorer_error(request, error):
        return _error(error.status, error.message)

    async def http_error(request, error):
        if error.status_code == 404:
            return _error(404, f"no such page. Received: {request.method} {request.url.path}")
        if error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "another method")
            return _error(405, f"{request.url.path} takes {allowed}. Received: {request.method}")
        return _error(error.status_code, str(error.detail))

    async def server_error(request, error):
        return _error(500, f"the explorer failed on this request: {type(error).__name__}: {error}")

    routes = [Route(url, asset) for url in ASSETS] + [
        Route("/api/model", model_info),
        Route("/api/initial", initial_image),
        Route("/api/test-images/{index:int}", test_image, methods=["POST"]),
        Route("/api/images", upload, methods=["POST"]),
        Route("/api/images/{image_id}", analysis),
        Route("/api/images/{image_id}/grad-cam", grad_cam),
        Route("/api/images/{image_id}/saliency", saliency),
        Route("/api/images/{image_id}/explain", explain),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ExplorerError: explorer_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.state.session = session
    return app
