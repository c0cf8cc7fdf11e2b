"""``convolve augment``: a grid of what augmentation layers make of one image
(``viz.plot_augmentations``).

Each ``--layer`` is ``NAME[:ARGS]``: NAME is one of the augmentation layers (``random-flip``,
``random_flip`` or ``RandomFlip``: case, hyphens and underscores do not matter), ARGS its
arguments separated by commas, positional ones first, then ``key=value``. A value is an integer,
a decimal, ``LOW..HIGH`` for a (low, high) pair, ``none``, ``true``/``false``, or a word
(``horizontal``, ``constant``). So ``random-zoom:-0.2..0.1,fill_mode=constant`` is
``RandomZoom((-0.2, 0.1), fill_mode="constant")``. The layers run in the order given, on the
image's pixels 0..255 (grey files stay grey, others are read as RGB; RandomContrast's and
RandomBrightness' default ``value_range`` is (0, 255)).
"""
from __future__ import annotations

import re

from ._common import (
    CLIError,
    add_command,
    add_max_pixels_option,
    existing_file,
    non_negative_int,
    output_file,
    positive_int,
)

#: the command-line names and the layer classes (convolve.layers) they stand for
LAYERS = {
    "random-flip": "RandomFlip",
    "random-rotation": "RandomRotation",
    "random-zoom": "RandomZoom",
    "random-translation": "RandomTranslation",
    "random-crop": "RandomCrop",
    "random-contrast": "RandomContrast",
    "random-brightness": "RandomBrightness",
}

_LAYER_HELP = """\
layers and their arguments (Keras' names and defaults; positional first, then key=value):
  random-flip         mode: horizontal, vertical or horizontal_and_vertical (default)
  random-rotation     factor (a fraction of a full turn, or LOW..HIGH), fill_mode, interpolation, fill_value
  random-zoom         height_factor, width_factor (LOW..HIGH or one number; negative: zoom in), fill_mode, ...
  random-translation  height_factor, width_factor (fractions of the height and width), fill_mode, ...
  random-crop         height, width
  random-contrast     factor, value_range (default 0..255)
  random-brightness   factor (a fraction of the value range, or LOW..HIGH), value_range (default 0..255)
values: integers, decimals, LOW..HIGH pairs, none, true/false, words (fill_mode=constant)"""

_INTEGER = re.compile(r"[+-]?\d+")


def register(sub, parents):
    a = add_command(
        sub,
        "augment",
        run_augment,
        parents=parents,
        help="a grid of random augmentations of one image (flips, rotations, zooms, ...)",
        description=(
            "Reads IMAGE (pixels 0-255; grey files stay grey, others become RGB), runs it --n times through "
            "the --layer augmentation layers in the order given, as in training (each panel its own random "
            "draw; --seed makes the picture repeat), and saves the panels as one PNG grid. Each --layer is "
            "NAME[:ARGS], NAME with hyphens or underscores, ARGS separated by commas."
        ),
        examples=[
            "convolve augment photo.jpg --layer random-flip:horizontal --layer random-rotation:0.1 "
            "--layer random-zoom:0.1 -o grid.png",
            "convolve augment boot.png --layer random_translation:0.2,0.2,fill_mode=constant --n 16 -o "
            "grid.png",
            "convolve augment photo.jpg --layer random-zoom:-0.3..0 --layer random-contrast:0.5 --seed 3 "
            "-o zoom_in.png",
            "convolve augment photo.jpg --layer random-crop:24,24 --layer random-brightness:0.2 -o crops.png",
        ],
    )
    a.epilog += "\n\n" + _LAYER_HELP
    a.add_argument("image", metavar="IMAGE", help="an image file (any format Pillow reads)")
    a.add_argument("--layer", action="append", required=True, metavar="NAME[:ARGS]",
                   help="an augmentation layer (see below); repeat for several, applied in order")
    a.add_argument("--n", type=positive_int, default=9, help="how many augmented versions to draw")
    a.add_argument("--seed", type=non_negative_int, default=0,
                   help="random seed: the same seed draws the same grid")
    a.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the picture to write")
    add_max_pixels_option(a)


def _value(text: str, spec: str):
    """One ARGS value (module docstring)."""
    word = text.strip()
    if ".." in word:
        low, _, high = word.partition("..")
        return _number(low, spec), _number(high, spec)
    lowered = word.lower()
    if lowered in ("none", "true", "false"):
        return {"none": None, "true": True, "false": False}[lowered]
    try:
        return _number(word, spec)
    except CLIError:
        return word


def _number(text: str, spec: str):
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        raise CLIError(
            f"a LOW..HIGH pair takes two numbers. Received: --layer {spec}"
        ) from None


def parse_layer(spec: str):
    """(layer class, positional arguments, keyword arguments) from one ``--layer NAME[:ARGS]``."""
    from .. import layers

    name, _, text = spec.partition(":")
    key = name.strip().lower().replace("-", "").replace("_", "")
    classes = {cli.replace("-", ""): cls for cli, cls in LAYERS.items()}
    if key not in classes:
        raise CLIError(
            f"unknown augmentation layer. Expected one of: {', '.join(LAYERS)} (hyphens or underscores), "
            f"followed by :ARGS. Received: --layer {spec}"
        )
    args, kwargs = [], {}
    for item in text.split(",") if text.strip() else []:
        field, eq, value = item.partition("=")
        if not item.strip() or (eq and not (field.strip() and value.strip())):
            raise CLIError(
                "layer arguments are written NAME:value,value,key=value "
                "(random-zoom:0.1,fill_mode=constant), "
                f"with no empty items. Received: --layer {spec}"
            )
        if eq:
            kwargs[field.strip()] = _value(value, spec)
        elif kwargs:
            raise CLIError(
                f"positional values must come before key=value ones. Received: --layer {spec}"
            )
        else:
            args.append(_value(item, spec))
    cls = getattr(layers, classes[key])
    _check_arguments(cls, args, kwargs, spec)
    return cls, args, kwargs


def _check_arguments(cls, args, kwargs, spec):
    """Too many values, or a key the layer does not take: a message listing its parameters."""
    import inspect

    signature = [
        p for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    params = [p.name for p in signature]
    unknown = [key for key in kwargs if key not in params]
    twice = [key for key in kwargs if key in params[: len(args)]]
    missing = [
        p.name for i, p in enumerate(signature)
        if p.default is p.empty and i >= len(args) and p.name not in kwargs
    ]
    if len(args) > len(params) or unknown or twice or missing:
        problem = (
            f"it takes at most {len(params)} values" if len(args) > len(params)
            else f"it has no parameter {', '.join(unknown)}" if unknown
            else f"{', '.join(twice)} given twice" if twice
            else f"{' and '.join(missing)} must be given"
        )
        raise CLIError(
            f"{cls.__name__} takes {', '.join(params)}; {problem}. Received: --layer {spec}"
        )


def _layer_text(cls, args, kwargs) -> str:
    parts = [repr(value) for value in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return f"{cls.__name__}({', '.join(parts)})"


def run_augment(args) -> int:
    output_file(args.output, ".png")
    existing_file(args.image, "image")
    parsed = [parse_layer(spec) for spec in args.layer]  # every --layer checked before any work
    made = []
    for (cls, positional, keywords), spec in zip(parsed, args.layer, strict=True):
        try:
            made.append(cls(*positional, **keywords))
        except (ValueError, TypeError) as error:
            raise CLIError(f"--layer {spec}: {error}") from None
    from ..images import ImageTooLargeError, read_image
    from ..layers import Input
    from ..models import Sequential
    from ..viz.augment import plot_augmentations
    from ._common import _pillow_limit, _too_large
    from .predict import _close

    try:
        with _pillow_limit(args.max_pixels):
            image = read_image(args.image, "auto", unit=255.0, max_pixels=args.max_pixels, where="read_image")
    except ImageTooLargeError as error:
        raise CLIError(_too_large(error, "image", args.image, args.max_pixels)) from None
    model = Sequential([Input(image.shape), *made], name="augmentation")
    figure = plot_augmentations(model, image, n=args.n, seed=args.seed, path=args.output)
    _close(figure)
    height, width, channels = image.shape
    colour = "grey" if channels == 1 else "RGB"
    steps = ", ".join(_layer_text(cls, p, k) for cls, p, k in parsed)
    print(f"{args.image}: {height}x{width} {colour} image, pixels 0-255; layers in order: {steps}")
    print(f"Saved {args.n} augmentations (seed {args.seed}) to {args.output}.")
    return 0
