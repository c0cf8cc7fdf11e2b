"""The ONNX Runtime side of ``benchmarks/speed.py``: one process, ONNX Runtime only (neither
convolve nor PyTorch is imported).

    python benchmarks/_onnxruntime_side.py predict --model classic.onnx --data DIR --threads 2

It times inference of the classic CNN that convolve trained in the fit part and exported to
ONNX (``model.export(path, format="onnx")``: NHWC input, the softmax included), on the same
test images in batches of 256, as the other sides' ``predict``: ``--predict-repeats`` timed runs
over the test set after one untimed batch, the median. The session runs with
``intra_op_num_threads`` = ``--threads``, one inter-op thread, sequential execution and every
graph optimization. The test accuracy is reported too, so that the model timed is the model
trained. Prints one JSON object, as ``_common.worker_main``'s workers do.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from _common import PREDICT_BATCH, check_probabilities, load_data, log, summary, thread_pools, timed


def session(path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def predict(sess, x) -> np.ndarray:
    """Probabilities for ``x`` (N, 28, 28, 1), in batches of PREDICT_BATCH, concatenated."""
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[start : start + PREDICT_BATCH]})[0]
                           for start in range(0, len(x), PREDICT_BATCH)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=("predict",))
    parser.add_argument("--model", required=True, help="the ONNX file the fit part exported")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--data", required=True, help="speed.py's folder of .npy files")
    parser.add_argument("--images", type=int, default=0, help="unused (the test images only)")
    parser.add_argument("--test-images", type=int, default=10000)
    parser.add_argument("--predict-repeats", type=int, default=3)
    args = parser.parse_args(argv)
    _, (x_test, y_test) = load_data(args.data, 0, args.test_images)
    sess = session(args.model, args.threads)
    predict(sess, x_test[:PREDICT_BATCH])  # untimed: the first run's allocations
    probabilities = predict(sess, x_test)
    check_probabilities(probabilities, len(x_test))
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
    seconds = [timed(lambda: predict(sess, x_test)) for _ in range(args.predict_repeats)]
    log(f"  predict: {np.median(seconds):.3f} s, test accuracy {accuracy:.4f}")
    import onnxruntime as ort

    process = {"library": "onnxruntime", "version": ort.__version__, "layout": "NHWC (convolve's export)",
               "threads": args.threads, "interop_threads": 1,
               "backends": [f"providers {', '.join(sess.get_providers())}", "sequential execution",
                            "graph optimization: all"],
               "pools": thread_pools()}
    print(json.dumps({"test_images": len(x_test), "test_accuracy": accuracy, "predict": summary(seconds),
                      "process": process}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
