"""``convolve export``: a saved model in another format: ONNX for ONNX Runtime, or a Keras 3
archive, a legacy .h5 or convolve's own .safetensors (the model's ``export``/``save``)."""
from __future__ import annotations

from ._common import CLIError, add_command, load_model_file, output_file, positive_int

#: what -o may name, and how it is written
SUFFIXES = (".onnx", ".keras", ".h5", ".safetensors")


def register(sub, parents):
    e = add_command(
        sub,
        "export",
        run_export,
        parents=parents,
        help="convert a saved model: ONNX (for ONNX Runtime), .keras, .h5 or .safetensors",
        description=(
            "Loads MODEL (any file convolve reads: .safetensors, .keras, .h5, .onnx) and writes it to -o in "
            "the format its suffix names: .onnx through model.export (an ONNX graph in the model's own "
            "layout; needs the onnx package), .keras, .h5 or .safetensors through model.save. Options Keras "
            "cannot express (a reflect padding mode, strides with dilation) refuse .keras with the layer's "
            "name; .safetensors keeps everything."
        ),
        examples=[
            "convolve export model.safetensors -o model.onnx",
            "convolve export model.safetensors -o model.keras",
            "convolve export resnet.onnx -o resnet.safetensors",
        ],
    )
    e.add_argument("model", metavar="MODEL", help="a saved model file")
    e.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the file to write: " + ", ".join(SUFFIXES)
    )
    e.add_argument("--opset", type=positive_int, help="ONNX opset (default 17, or 19 where needed)")


def run_export(args) -> int:
    path = output_file(args.output, SUFFIXES)
    onnx = path.lower().endswith(".onnx")
    if args.opset is not None and not onnx:
        raise CLIError(f"--opset is for .onnx output. Received: --opset {args.opset} with -o {path}")
    model = load_model_file(args.model)
    if onnx:
        options = {} if args.opset is None else {"opset": args.opset}
        model.export(path, format="onnx", verbose=False, **options)
    else:
        model.save(path)
    print(f"Wrote {args.model} as {path}.")
    return 0
