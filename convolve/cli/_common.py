"""Pieces the subcommands share: errors, argument types, and loading files from the command line.

Everything heavy (NumPy arrays, models, images) is imported inside the functions.
"""
from __future__ import annotations

import argparse
import contextlib
import os

#: the datasets ``--dataset`` names, with the tag a trained model's name starts with
DATASETS = {
    "bundled": "fashion_mnist_subset",
    "fashion-mnist": "fashion_mnist",
    "mnist": "mnist",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "cifar100-coarse": "cifar100_coarse",
}
#: how many classes each of them has
DATASET_CLASSES = {
    "bundled": 10, "fashion-mnist": 10, "mnist": 10, "cifar10": 10, "cifar100": 100, "cifar100-coarse": 20,
}
DATASET_HELP = (
    "bundled (the Fashion-MNIST subset shipped with convolve), fashion-mnist, mnist, cifar10, cifar100 "
    "(its 100 fine labels), cifar100-coarse (its 20 superclasses), or a folder: MNIST-style IDX files, or "
    "class subfolders of images (DIR/<class>/<image>.png)"
)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class CLIError(Exception):
    """A problem with the command line's request (a missing file, an unknown name): printed as one line."""


class UsageError(Exception):
    """A bad argument, found by argparse."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog
        self.message = message


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in epilogs as written (descriptions are wrapped by ``add_command``)
    and shows the options' defaults where they have one."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        no_default = default is None or default is False or default == argparse.SUPPRESS
        if not action.option_strings or no_default or "default" in text:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {shown})".strip()


def add_command(sub, name, run, help, description, examples, parents):
    """A subcommand's parser, with its examples in the epilog and ``args.run = run``."""
    import shutil
    import textwrap

    width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 2
    parser = sub.add_parser(
        name, help=help, description=textwrap.fill(description, width), parents=parents,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
        formatter_class=Formatter,
    )
    parser.set_defaults(run=run)
    return parser


# ---- argument types (argparse calls them; a ValueError/ArgumentTypeError becomes a usage error) ----
def _integer(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer. Received: {text!r}")
        return value

    parse.__name__ = f"{what} integer"  # argparse names the type in its messages
    return parse


positive_int = _integer(1, "positive")
non_negative_int = _integer(0, "non-negative")


#: the padding words the library knows; each subcommand takes those that apply to it
PADDING_WORDS = ("valid", "same", "full", "causal")


def _padding_item(words):
    """An argparse type: one of ``words``, or a non-negative integer (pixels on each side)."""
    expected = ", ".join(repr(w) for w in words) + " or a non-negative integer"

    def parse(text: str):
        if text in words:
            return text
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected {expected}. Received: {text!r}")
        return value

    parse.__name__ = "padding"
    return parse


def add_padding_option(parser, default: str, words=("valid", "same", "full"), help: str = ""):
    """``--padding``, the same for every subcommand: one word of ``words``, or pixels added on each
    side: one integer for every spatial axis or one per axis (``--padding 1 2``). Read it back with
    ``padding_arg``."""
    text = f"{', '.join(words)}, or pixels added on each side: one integer, or one per axis"
    parser.add_argument(
        "--padding", nargs="+", type=_padding_item(words), default=[default], metavar="P",
        help=f"{text}; {help}" if help else text,
    )


def padding_arg(values, n: int, option: str = "--padding"):
    """The library's ``padding`` from ``add_padding_option``'s values for ``n`` spatial axes:
    a word as it is, integers as a tuple of ``n`` (``per_axis``)."""
    values = list(values)
    if any(isinstance(v, str) for v in values):
        if len(values) != 1:
            raise CLIError(
                f"{option} takes one word or integers (one, or one per spatial axis), not several words or "
                f"both. Received: {option} {' '.join(map(str, values))}"
            )
        return values[0]
    return per_axis(values, n, option)


def padding_text(padding) -> str:
    """``padding_arg``'s value as the command line wrote it: 'same', '1', '1 2'."""
    if isinstance(padding, str):
        return padding
    return str(padding[0]) if len(set(padding)) == 1 else " ".join(map(str, padding))


def per_axis(values, n: int, option: str):
    """[v] -> (v,) * n; [v1, ..., vn] -> tuple; any other length is an error."""
    if values is None:
        return None
    values = tuple(values)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        takes = "1 value" if n == 1 else f"1 value or {n} (one per spatial axis)"
        raise CLIError(f"{option} takes {takes}. Received: {option} {' '.join(map(str, values))}")
    return values


def one_or_pair(values):
    """[v] -> v; [v1, v2] -> (v1, v2): the form the library's strides/dilation_rate take."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else tuple(values)


# ---- files -------------------------------------------------------------------------------------------
def existing_file(path: str, what: str) -> str:
    """``path`` if it is a readable file; a one-line error otherwise (before any work)."""
    if not os.path.exists(path):
        raise CLIError(f"no such {what}: '{path}'")
    if os.path.isdir(path):
        raise CLIError(f"the {what} '{path}' is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise CLIError(f"cannot read the {what} '{path}' (permission denied)")
    return path


def output_file(path: str, suffixes, option: str = "-o") -> str:
    """Check an output path before the work: its folder exists and its suffix fits."""
    suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    if not path.lower().endswith(suffixes):
        raise CLIError(f"{option} must name a {' or '.join(suffixes)} file. Received: {option} {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"the folder for {option} does not exist: '{folder}'. Received: {option} {path}")
    if not os.access(folder, os.W_OK):
        raise CLIError(
            f"cannot write into the folder '{folder}' (permission denied). Received: {option} {path}"
        )
    return path


def load_array(path: str, what: str = "input"):
    """A .npy file as a float array (no pickles)."""
    import numpy as np

    existing_file(path, f"{what} file")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise CLIError(f"cannot read '{path}' as a .npy array ({error})") from None
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise CLIError(f"the {what} file '{path}' must hold real numbers. Received: dtype {array.dtype}")
    return array


def max_pixels_value(text: str):
    """An argparse type for ``--max-pixels``: a positive integer, 'none' (no limit) or 'default'."""
    if text in ("none", "default"):
        return None if text == "none" else text
    return positive_int(text)


max_pixels_value.__name__ = "--max-pixels value"


def add_max_pixels_option(parser):
    """``--max-pixels``, for the subcommands that read image files (see ``load_picture``)."""
    parser.add_argument(
        "--max-pixels", type=max_pixels_value, default="default", metavar="N",
        help="refuse image files with more than N pixels (width x height) before decoding them, a guard "
             "against decompression bombs; 'none' for no limit (default: Pillow's limit, 89478485)",
    )


@contextlib.contextmanager
def _pillow_limit(max_pixels):
    """Pillow's own limit set to ``max_pixels`` for the duration (this process is one command line):
    Pillow refuses images above twice PIL.Image.MAX_IMAGE_PIXELS whatever load_image is told."""
    try:
        from PIL import Image
    except ImportError:  # load_image says how to install it
        yield
        return
    saved = Image.MAX_IMAGE_PIXELS
    if max_pixels != "default":
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_picture(path: str, channels: int = 1, size=None, what: str = "image", max_pixels="default"):
    """An image file (anything Pillow reads) or a .npy array as a (1, H, W, C) float32 batch.

    Images come from ``convolve.images.load_image`` (values in [0, 1], grey for one channel,
    RGB for three, resized to ``size`` = (H, W) when given). A .npy array may be (H, W),
    (H, W, C) or (1, H, W, C) and is used as it is (not rescaled), so it must already have
    the size asked for. ``max_pixels`` is ``--max-pixels``: an image file with more pixels is
    refused from its header ('default': Pillow's limit; None: no limit).
    """
    import numpy as np

    existing_file(path, what)
    if path.lower().endswith(".npy"):
        array = load_array(path, what)
        if array.ndim == 2:
            array = array[None, :, :, None]
        elif array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[0] != 1:
            raise CLIError(
                f"the {what} '{path}' must be an array of shape (H, W), (H, W, C) or (1, H, W, C). "
                f"Received: shape {array.shape}"
            )
        if size is not None and tuple(array.shape[1:3]) != tuple(size):
            raise CLIError(
                f"the {what} '{path}' must be {size[0]}x{size[1]} (the model's input size; .npy arrays are "
                f"not resized). Received: shape {array.shape}"
            )
        if array.shape[-1] != channels:
            raise CLIError(
                f"the {what} '{path}' must have {channels} channel(s). Received: shape {array.shape}"
            )
        return array.astype(np.float32)
    from ..images import ImageTooLargeError, load_image

    mode = {1: "grayscale", 3: "rgb"}.get(channels)
    if mode is None:
        raise CLIError(f"images can be read with 1 (grey) or 3 (RGB) channels. Received: {channels} channels")
    try:
        with _pillow_limit(max_pixels):
            target_size = None if size is None else tuple(size)
            return load_image(path, color_mode=mode, target_size=target_size, max_pixels=max_pixels)
    except ImageTooLargeError as error:
        raise CLIError(_too_large(error, what, path, max_pixels)) from None


def _too_large(error, what: str, path: str, max_pixels) -> str:
    """The one line for an image refused for its size, naming --max-pixels."""
    limit = f"{error.max_pixels:,}" + (" (the default: Pillow's limit)" if max_pixels == "default" else "")
    if error.size is None:  # Pillow refused it from its header: it holds over twice Pillow's limit
        found = f"has more than twice --max-pixels {limit} pixels"
    else:
        width, height = error.size
        found = f"is {width}x{height} = {width * height:,} pixels, more than --max-pixels {limit}"
    return (
        f"the {what} '{path}' {found}; it is refused before decoding, a guard against decompression bombs. "
        f"For a file you trust, pass a larger --max-pixels, or --max-pixels none. Received: {path}"
    )


def kernel_names():
    from .. import filters

    return list(filters.names())


def load_kernel(spec: str, dims=(2,)):
    """(float32 kernel, label) from a filter name (``convolve.filters``, 2-D) or a .npy file
    holding an array of one of the ranks ``dims``."""
    import numpy as np

    if spec.lower().endswith(".npy") or os.sep in spec:
        kernel = load_array(spec, "kernel")
        if kernel.ndim == 4 and kernel.shape[2:] == (1, 1):
            kernel = kernel[:, :, 0, 0]
        if kernel.ndim not in dims:
            forms = {1: "a 1-D array (k,)", 2: "a 2-D array (kh, kw) or (kh, kw, 1, 1)"}
            wanted = " or ".join(forms[d] for d in dims)
            raise CLIError(f"the kernel file '{spec}' must hold {wanted}. Received: shape {kernel.shape}")
        return kernel.astype(np.float32), os.path.basename(spec)
    name, _, param_text = spec.partition(":")
    name = name.strip().lower().replace("-", "_")  # the shell's sobel-x is the library's sobel_x
    known = kernel_names()
    if name not in known:
        raise CLIError(
            f"unknown kernel name. Expected one of: {', '.join(known)} (hyphens or underscores), "
            f"or a .npy file. "
            f"Received: --kernel {spec}"
        )
    params = {}
    for item in filter(None, param_text.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise CLIError(
                "kernel parameters are written NAME:key=value,key=value (gaussian:size=7,sigma=2). "
                f"Received: --kernel {spec}"
            )
        try:
            params[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            raise CLIError(
                f"the kernel parameter {key!r} must be a number. Received: --kernel {spec}"
            ) from None
    from .. import filters

    return np.asarray(filters.get(name, **params), dtype=np.float32), spec


def load_model_file(path: str):
    """A model that ``model.save`` / ``convolve train`` wrote."""
    existing_file(path, "model file")
    from ..models import load_model

    return load_model(path)


def dataset_of(model) -> str | None:
    """The ``--dataset`` a model was trained on, read from its name (``convolve train`` names
    models ``<dataset tag>_<architecture>``), or None."""
    name = getattr(model, "name", "") or ""
    for key, tag in sorted(DATASETS.items(), key=lambda kv: -len(kv[1])):
        if name == tag or name.startswith(tag + "_"):
            return key
    return None


def class_names(dataset: str | None, count: int):
    """Names of the classes for ``dataset`` ('0'..'9' for digits), or numbers."""
    if dataset in ("bundled", "fashion-mnist"):
        from ..datasets import fashion_mnist

        names = list(fashion_mnist.CLASS_NAMES)
    elif dataset == "mnist":
        names = [str(i) for i in range(10)]
    elif dataset == "cifar10":
        from ..datasets import cifar10

        names = list(cifar10.CLASS_NAMES)
    elif dataset in ("cifar100", "cifar100-coarse"):
        from ..datasets import cifar100

        names = list(cifar100.class_names("coarse" if dataset == "cifar100-coarse" else "fine"))
    else:
        names = []
    return names if len(names) == count else [f"class {i}" for i in range(count)]


def model_class_names(model, dataset: str | None, count: int):
    """The names of a model's ``count`` classes: those saved with it (``model.class_names``) when
    there are ``count`` of them, else ``dataset``'s (``class_names``)."""
    names = getattr(model, "class_names", None)
    if isinstance(names, (list, tuple)) and len(names) == count:
        return [str(name) for name in names]
    return class_names(dataset, count)


def load_dataset(dataset: str, limit: int | None = None):
    """((x, y), (x_test, y_test), title) scaled to [0, 1] with a channel axis: (N, H, W, C) float32
    (C = 1 for the grey datasets, 3 for CIFAR), labels int64 (N,).

    ``dataset``: 'bundled' (the 3,000 + 1,000 Fashion-MNIST subset shipped with convolve),
    'fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'cifar100-coarse', or a folder / .npz file
    holding MNIST-style data (class folders are read by ``_folders``). ``limit`` keeps the first
    ``limit`` training and test images.
    """
    import numpy as np

    from ..datasets import cifar10, cifar100, fashion_mnist, mnist

    if dataset == "bundled":
        data, title = fashion_mnist.load_subset(), "the Fashion-MNIST subset bundled with convolve"
    elif dataset == "fashion-mnist":
        data, title = fashion_mnist.load_data(), "Fashion-MNIST"
    elif dataset == "mnist":
        data, title = mnist.load_data(), "MNIST"
    elif dataset == "cifar10":
        data, title = cifar10.load_data(), "CIFAR-10"
    elif dataset in ("cifar100", "cifar100-coarse"):
        mode = "coarse" if dataset == "cifar100-coarse" else "fine"
        data, title = cifar100.load_data(label_mode=mode), f"CIFAR-100 ({mode} labels)"
    elif os.path.exists(dataset):
        data, title = mnist.load_data(path=dataset), f"the data in '{dataset}'"
    else:
        raise CLIError(
            "unknown dataset: expected bundled, fashion-mnist, mnist, cifar10, cifar100, cifar100-coarse, or "
            f"a folder (IDX files or class subfolders) or .npz file. Received: --dataset {dataset}"
        )
    (x, y), (xt, yt) = data
    y, yt = np.reshape(y, -1), np.reshape(yt, -1)  # CIFAR's labels are (N, 1)
    if limit is not None:
        x, y, xt, yt = x[:limit], y[:limit], xt[:limit], yt[:limit]

    def prepare(images):
        images = images.astype(np.float32) / 255.0
        return images[..., None] if images.ndim == 3 else images

    return (prepare(x), y.astype(np.int64)), (prepare(xt), yt.astype(np.int64)), title


def add_scheduler_option(parser, what: str):
    """``--scheduler``, for the subcommands that can run on a Dask cluster (``convolve.dask``)."""
    parser.add_argument(
        "--scheduler", metavar="ADDRESS|local",
        help=f"{what} on a Dask cluster (needs convolve[dask]): 'local' starts one single-threaded worker "
             "process per core on this machine; an address (tcp://host:8786) uses a running scheduler's "
             "workers, which must see the image files under the same names. Dask's progress bar goes to "
             "standard error",
    )
