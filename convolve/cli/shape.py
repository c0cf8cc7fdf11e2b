"""``convolve shape`` (output sizes with their arithmetic, or every layer of a saved model) and
``convolve summary`` (a saved model's ``summary()``)."""
from __future__ import annotations

from ._common import (
    PADDING_WORDS,
    CLIError,
    add_command,
    add_padding_option,
    load_model_file,
    non_negative_int,
    padding_arg,
    padding_text,
    per_axis,
    positive_int,
)


def register(sub, parents):
    p = add_command(
        sub, "shape", run_shape, parents=parents,
        help="output size of a convolution with its arithmetic, or every layer of a saved model",
        description=(
            "With --input-size and --kernel-size: the output size of a convolution (or pooling window), "
            "with the arithmetic per spatial axis. Give one value per axis (9 9 for a 9x9 image); one value "
            "is used for every axis (--dims sets how many axes; by default as many as the longest list). "
            "With a saved MODEL: every layer's output shape, receptive field and jump, and the arithmetic "
            "of each convolution and pooling layer."
        ),
        examples=[
            "convolve shape --input-size 9 --kernel-size 3 --stride 2         # 9 -> 4",
            "convolve shape --input-size 512 512 --kernel-size 3 --stride 2 1  # (255, 510)",
            "convolve shape --input-size 28 28 --kernel-size 5 --padding same --dilation 2",
            "convolve shape --input-size 28 28 --kernel-size 5 --padding 2 1",
            "convolve shape --input-size 4 4 --kernel-size 3 --stride 2 --transposed",
            "convolve shape model.safetensors",
        ],
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="a saved model file (instead of --input-size)")
    p.add_argument("--input-size", nargs="+", type=positive_int, metavar="N",
                   help="input size per spatial axis")
    p.add_argument("--kernel-size", nargs="+", type=positive_int, metavar="K",
                   help="kernel (window) size per axis")
    p.add_argument("--stride", nargs="+", type=positive_int, default=[1], metavar="S", help="stride per axis")
    add_padding_option(p, "valid", words=PADDING_WORDS, help="causal is for 1-D")
    p.add_argument("--dilation", nargs="+", type=positive_int, default=[1], metavar="D",
                   help="dilation per axis")
    p.add_argument("--transposed", action="store_true",
                   help="a transposed convolution (padding valid or same)")
    p.add_argument("--output-padding", nargs="+", type=non_negative_int, metavar="P",
                   help="with --transposed: extra rows/columns at the end, each smaller than the stride")
    p.add_argument("--dims", type=int, choices=(1, 2, 3), help="number of spatial axes")

    s = add_command(
        sub, "summary", run_summary, parents=parents,
        help="a saved model's summary: layers, output shapes, parameters, receptive fields",
        description=(
            "Loads a model file written by model.save or `convolve train` and prints model.summary()."
        ),
        examples=["convolve summary model.safetensors"],
    )
    s.add_argument("model", metavar="MODEL", help="a saved model file")


def run_shape(args) -> int:
    if args.model is not None:
        if args.input_size or args.kernel_size:
            raise CLIError(
                "give either a MODEL file or --input-size with --kernel-size, not both. "
                f"Received: {args.model} and --input-size/--kernel-size"
            )
        return _model_shapes(args.model)
    if not args.input_size or not args.kernel_size:
        options = (("--input-size", args.input_size), ("--kernel-size", args.kernel_size))
        missing = " and ".join(option for option, values in options if not values)
        raise CLIError(f"needs --input-size and --kernel-size (or a MODEL file). Received: no {missing}")
    # the number of axes: --dims, else --input-size's when it has several, else the longest list
    lists = [args.input_size, args.kernel_size, args.stride, args.dilation, args.output_padding or []]
    if not any(isinstance(v, str) for v in args.padding):
        lists.append(args.padding)  # integers per axis count too
    n = args.dims or (len(args.input_size) if len(args.input_size) > 1 else max(len(v) for v in lists))
    sizes = per_axis(args.input_size, n, "--input-size")
    kernel = per_axis(args.kernel_size, n, "--kernel-size")
    strides = per_axis(args.stride, n, "--stride")
    dilation = per_axis(args.dilation, n, "--dilation")
    from ..ops.shapes import conv_output_shape, conv_transpose_output_shape

    padding = padding_arg(args.padding, n)
    if args.transposed:
        if padding not in ("valid", "same"):
            raise CLIError(
                "a transposed convolution takes --padding valid or same. "
                f"Received: --padding {padding_text(padding)}"
            )
        out_pad = per_axis(args.output_padding, n, "--output-padding")
        out, _, steps = conv_transpose_output_shape(
            sizes, kernel, strides, padding, out_pad, dilation, explain=True
        )
        what = f"Conv{n}DTranspose"
    else:
        if args.output_padding:
            values = " ".join(map(str, args.output_padding))
            raise CLIError(f"--output-padding needs --transposed. Received: --output-padding {values}")
        out, _, steps = conv_output_shape(sizes, kernel, strides, padding, dilation, explain=True)
        what = f"Conv{n}D"
    from ..models.summary import axes_text

    print(f"{what}: input {axes_text(sizes)} -> output {axes_text(out)}")
    for step in steps:
        print(f"  {step}")
    return 0


def _layer_arithmetic(layer, input_shape):
    """The per-axis arithmetic of a convolution or pooling layer, or [] for other layers."""
    from ..ops.shapes import conv_output_shape

    step = layer.receptive_field()
    padding = getattr(layer, "padding", None)
    window = getattr(layer, "kernel_size", getattr(layer, "pool_size", None))
    if step is None or window is None or padding is None or input_shape is None or step.upsample != 1:
        return []  # not a window layer, or a transposed convolution (its arithmetic differs)
    n = len(window)
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        spatial = input_shape[2 : 2 + n]
    else:
        spatial = input_shape[1 : 1 + n]
    try:
        _, _, steps = conv_output_shape(
            spatial, step.kernel_size, step.strides, padding, step.dilation_rate, explain=True
        )
    except (ValueError, TypeError):
        return []
    return steps


def _model_shapes(path) -> int:
    from ..layers.base import format_shape
    from ..models.summary import axes_text

    model = load_model_file(path)
    rows = model.summary_rows()
    table = [("Layer (type)", "Output Shape", "Receptive field", "Jump")]
    for r in rows:
        shape = r["output_shape"]
        shape_text = (
            "multiple" if isinstance(shape, list) else ("?" if shape is None else format_shape(shape))
        )
        table.append(
            (f"{r['name']} ({r['type']})", shape_text, axes_text(r["receptive_field"]), axes_text(r["jump"]))
        )
    widths = [max(len(row[i]) for row in table) + 2 for i in range(len(table[0]))]
    print(
        f'Model "{model.name}": input '
        f'{format_shape(model.input_shape) if not isinstance(model.input_shape, list) else model.input_shape}'
    )
    for i, row in enumerate(table):
        print("".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("-" * sum(widths))
            continue
        layer, shape = model.get_layer(rows[i - 1]["name"]), rows[i - 1]["input_shape"]
        for step in _layer_arithmetic(layer, shape if isinstance(shape, tuple) else None):
            print(f"    {step}")
    print(
        "Receptive field: the input pixels one output sees, per axis; "
        "jump: input pixels between neighbouring outputs."
    )
    return 0


def run_summary(args) -> int:
    model = load_model_file(args.model)
    model.summary()
    return 0
