"""``convolve filter``, ``explain`` and ``animate``: a convolution shown on your own data."""
from __future__ import annotations

from ._common import (
    PADDING_MODES,
    CLIError,
    add_command,
    add_max_pixels_option,
    add_padding_option,
    existing_file,
    kernel_names,
    load_array,
    load_kernel,
    load_picture,
    non_negative_int,
    one_or_pair,
    output_file,
    padding_arg,
    padding_text,
    per_axis,
    positive_int,
)


def _kernel_help() -> str:
    return (
        "a filter name (`convolve filter --list`; sobel-x or sobel_x), with parameters as NAME:key=value,... "
        "(gaussian:size=7,sigma=2), or a .npy file holding a 2-D kernel"
    )


def register(sub, parents):
    f = add_command(
        sub, "filter", run_filter, parents=parents,
        help="apply named filters (edges, blur, Sobel, ...) to an image and save the maps",
        description=(
            "Reads an image as grey values in [0, 1], cross-correlates it with each --kernel (as Conv2D "
            "does: the kernel is not flipped) and saves the maps side by side in one PNG, each scaled to its "
            "own range. --list prints the filter names."
        ),
        examples=[
            "convolve filter shirt.png --kernel sobel_x --kernel sobel_y -o sobel.png",
            "convolve filter boot.png --kernel top_edge --kernel left_edge --kernel bottom_edge "
            "--kernel right_edge -o edges.png",
            "convolve filter photo.jpg --kernel gaussian --padding same --mode reflect -o blurred.png",
            "convolve filter photo.jpg --kernel vertical_line --stride 2 1 --padding valid -o lines.png",
            "convolve filter photo.jpg --kernel sobel-x --padding 2 0 -o rows_padded.png",
            "convolve filter --list",
        ],
    )
    f.add_argument("image", nargs="?", metavar="IMAGE",
                   help="an image file (any format Pillow reads) or a .npy array")
    f.add_argument("--kernel", action="append", metavar="NAME", help=_kernel_help() + "; repeat for several")
    f.add_argument("--stride", nargs="+", type=positive_int, default=[1], metavar="S",
                   help="stride (one value, or rows and columns)")
    add_padding_option(f, "same", help="'same' keeps the image's size")
    f.add_argument("--mode", choices=PADDING_MODES, default="zeros", help="how the padding fills the border")
    f.add_argument("--normalize", choices=("minmax", "symmetric", "clip"), default="minmax",
                   help="minmax: each map to its own range; symmetric: 0 is mid-grey, signs in colour; "
                        "clip: values in [0, 1]")
    f.add_argument("--scale", type=positive_int,
                   help="enlarge each pixel this many times (default: maps at least 128 pixels wide)")
    f.add_argument("--columns", type=positive_int,
                   help="maps per row of the picture (default: all in one row)")
    f.add_argument("--list", action="store_true", help="print the filter names and exit")
    f.add_argument("-o", "--output", metavar="OUT.png", help="the picture to write")
    add_max_pixels_option(f)

    e = add_command(
        sub, "explain", run_explain, parents=parents,
        help="the arithmetic of one output value: patch, kernel, products, sum",
        description=(
            "Prints how the convolution computes the output at (ROW, COL): the input patch under the kernel, "
            "the kernel, their element-wise products, the sum plus the bias, and the output-size arithmetic. "
            "--input is a .npy array (H, W), or (L,) with a 1-D .npy kernel, or a picture (read as grey "
            "values in [0, 1])."
        ),
        examples=[
            "convolve explain --input line.npy --kernel vertical_line --at 2 3",
            "convolve explain --input boot.png --kernel sobel_x --at 10 10 --padding same --stride 2",
            "convolve explain --input x.npy --kernel k.npy --at 0 0 --dilation 2 --bias 0.5",
            "convolve explain --input x.npy --kernel sobel-y --at 0 0 --padding 1 0",
            "convolve explain --input bump.npy --kernel k1d.npy --at 2          # 1-D arrays",
        ],
    )
    e.add_argument("--input", required=True, metavar="FILE", help="a .npy array (H, W) or an image file")
    e.add_argument("--kernel", required=True, metavar="NAME", help=_kernel_help())
    e.add_argument("--at", required=True, nargs="+", type=non_negative_int, metavar="INDEX",
                   help="the output position: row and column (one index for a 1-D input)")
    e.add_argument("--stride", nargs="+", type=positive_int, default=[1], metavar="S",
                   help="stride, one value or one per axis")
    add_padding_option(e, "valid", help="zeros around the input")
    e.add_argument("--dilation", nargs="+", type=positive_int, default=[1], metavar="D",
                   help="dilation, one value or one per axis")
    e.add_argument("--bias", type=float, default=0.0, help="added to the sum")
    add_max_pixels_option(e)

    a = add_command(
        sub, "animate", run_animate, parents=parents,
        help="a GIF of the kernel sliding over the input, one frame per output position",
        description=(
            "Draws the convolution arithmetic guide's pictures for your parameters: the input (blue) with "
            "its padding, the kernel's footprint and the output (green), one frame per output value. With "
            "--input (and --kernel) the numbers are drawn in. --transposed shows a transposed convolution."
        ),
        examples=[
            "convolve animate --input-size 5 --kernel-size 3 -o valid.gif",
            "convolve animate --input-size 5 --kernel-size 3 --stride 2 --padding same -o strided.gif",
            "convolve animate --input-size 7 --kernel-size 3 --dilation 2 -o dilated.gif",
            "convolve animate --input-size 5 --kernel-size 3 --padding 1 0 -o padded_rows.gif",
            "convolve animate --input-size 3 --kernel-size 3 --stride 2 --transposed -o transposed.gif",
            "convolve animate --input-size 6 --kernel-size 3 --input x.npy --kernel vertical-line "
            "-o numbers.gif",
        ],
    )
    a.add_argument("--input-size", nargs="+", type=positive_int, metavar="N",
                   help="input height [width] (default: from --input)")
    a.add_argument("--kernel-size", nargs="+", type=positive_int, metavar="K",
                   help="kernel height [width] (default: from --kernel, else 3)")
    a.add_argument("--stride", nargs="+", type=positive_int, default=[1], metavar="S",
                   help="stride, one value or rows and columns")
    add_padding_option(a, "valid", help="zeros around the input")
    a.add_argument("--dilation", nargs="+", type=positive_int, default=[1], metavar="D",
                   help="dilation, one value or rows and columns")
    a.add_argument("--transposed", action="store_true", help="a transposed convolution")
    a.add_argument("--output-padding", nargs="+", type=non_negative_int, metavar="P",
                   help="with --transposed, as in Conv2DTranspose")
    a.add_argument("--input", metavar="FILE.npy", help="a 2-D array whose numbers are drawn in")
    a.add_argument("--kernel", metavar="NAME", help=_kernel_help() + " (its numbers are drawn in)")
    a.add_argument("-o", "--output", required=True, metavar="OUT.gif", help="the animation to write")


def default_scale(height, width, target=128):
    return max(1, target // max(height, width, 1))


def run_filter(args) -> int:
    if args.list:
        print("\n".join(kernel_names()))
        return 0
    if args.image is None or not args.kernel or args.output is None:
        given = (("IMAGE", args.image), ("--kernel", args.kernel), ("-o", args.output))
        missing = [what for what, value in given if not value]
        raise CLIError(f"needs IMAGE, --kernel NAME and -o OUT.png. Received: no {', '.join(missing)}")
    strides = per_axis(args.stride, 2, "--stride")
    padding = padding_arg(args.padding, 2)
    output_file(args.output, ".png")
    existing_file(args.image, "image")
    kernels = [load_kernel(spec) for spec in args.kernel]  # unknown names fail before any work
    import numpy as np

    from ..images import filter_image, save_maps

    image = load_picture(args.image, channels=1, max_pixels=args.max_pixels)
    maps = []
    for kernel, _ in kernels:
        out = filter_image(image, kernel, strides=strides, padding=padding, padding_mode=args.mode)
        if maps and out.shape[1:3] != maps[0].shape[1:3]:
            raise CLIError(
                f"the kernels give maps of different sizes with --padding {padding_text(padding)} "
                f"({maps[0].shape[1:3]} and {out.shape[1:3]}); use --padding same or kernels of one size. "
                f"Received: --kernel {' --kernel '.join(args.kernel)}"
            )
        maps.append(out)
    stack = np.concatenate(maps, axis=-1)
    scale = args.scale or default_scale(*stack.shape[1:3])
    save_maps(args.output, stack, normalize=args.normalize, columns=args.columns or len(maps), scale=scale)
    _, height, width, _ = image.shape
    print(f"{args.image}: {height}x{width} grey image; padding {padding_text(padding)} ({args.mode}), "
          f"stride {strides[0]}x{strides[1]}")
    for (kernel, label), out in zip(kernels, maps, strict=True):
        values = out[0, :, :, 0]
        sizes = f"{kernel.shape[0]}x{kernel.shape[1]} kernel -> {values.shape[0]}x{values.shape[1]} map"
        print(f"  {label:<16} {sizes}, values {values.min():.3f} to {values.max():.3f}")
    print(f"Saved {len(maps)} map(s), left to right in this order, to {args.output} "
          f"(normalize {args.normalize}, each pixel x{scale}).")
    return 0


def _input_array(path, dims=(2,), max_pixels="default"):
    """A .npy array (of a rank in ``dims``) or an image (2-D grey values in [0, 1])."""
    if path.lower().endswith(".npy"):
        array = load_array(path, "input")
        if array.ndim == 4 and array.shape[0] == 1 and array.shape[-1] == 1:
            array = array[0, :, :, 0]
        if array.ndim not in dims:
            wanted = " or ".join({1: "1-D (L,)", 2: "2-D (H, W) or (1, H, W, 1)"}[d] for d in dims)
            raise CLIError(f"the input '{path}' must be a {wanted} array. Received: shape {array.shape}")
        return array
    return load_picture(path, channels=1, max_pixels=max_pixels)[0, :, :, 0]


def run_explain(args) -> int:
    existing_file(args.input, "input file")
    x = _input_array(args.input, dims=(1, 2), max_pixels=args.max_pixels)
    n = x.ndim
    if len(args.at) != n:
        raise CLIError(
            f"--at takes {n} value(s) for a {n}-D input {x.shape}. "
            f"Received: --at {' '.join(map(str, args.at))}"
        )
    kernel, _ = load_kernel(args.kernel, dims=(n,))
    if kernel.ndim != n:
        raise CLIError(
            f"a {n}-D input needs a {n}-D kernel (a .npy file). "
            f"Received: --kernel {args.kernel}, shape {kernel.shape}"
        )
    strides = one_or_pair(per_axis(args.stride, n, "--stride"))
    dilation = one_or_pair(per_axis(args.dilation, n, "--dilation"))
    padding = padding_arg(args.padding, n)
    from ..viz.explain import explain

    explain(x, kernel, bias=args.bias, strides=strides, padding=padding, dilation_rate=dilation,
            at=tuple(args.at), print_fn=print)
    return 0


def run_animate(args) -> int:
    output_file(args.output, ".gif")
    padding = padding_arg(args.padding, 2)
    x = _input_array(args.input) if args.input else None
    kernel = load_kernel(args.kernel)[0] if args.kernel else None
    for values, option in ((args.input_size, "--input-size"), (args.kernel_size, "--kernel-size")):
        if values is not None and len(values) > 2:
            raise CLIError(
                f"{option} takes 1 value (a square) or 2 (rows, columns). "
                f"Received: {option} {' '.join(map(str, values))}"
            )
    if args.input_size is None and x is None:
        raise CLIError("needs --input-size (or an --input array). Received: neither")
    if args.kernel_size is None and kernel is None:
        args.kernel_size = [3]
    size = lambda values: None if values is None else (values[0] if len(values) == 1 else tuple(values))  # noqa: E731
    from ..viz.animate import animate_convolution

    output_padding = None if args.output_padding is None else one_or_pair(args.output_padding)
    result = animate_convolution(
        size(args.input_size), size(args.kernel_size), strides=one_or_pair(args.stride), padding=padding,
        dilation_rate=one_or_pair(args.dilation), transposed=args.transposed, x=x, kernel=kernel,
        path=args.output, output_padding=output_padding,
    )
    kind = "transposed convolution" if args.transposed else "convolution"
    from ..models.summary import axes_text

    sizes = axes_text(result["input_size"]), axes_text(result["output_size"])
    print(f"A {kind}: input {sizes[0]} -> output {sizes[1]}; {result['frames']} frames, one per output "
          f"value, {result['image_size'][0]}x{result['image_size'][1]} pixels.")
    print(f"Saved {args.output}.")
    return 0
