"""TensorFlow's own per-example latency on a Keras model or SavedModel, with a given number of
threads: run as a child process (`python -m quantlab.analysis.speed_tf ARGS.json`) because
TensorFlow's thread pools are fixed once it has run an op, and `quantlab bench MODEL` times one
and several threads in the same run. Prints one JSON object on stdout."""

from __future__ import annotations

import json
import os
import sys
import time


def time_tf(model_path: str, fmt: str, inputs_npz: str, threads: int, rounds: int) -> dict:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    data = np.load(inputs_npz)
    names = list(data.files)  # in the model's input order (speed.py writes them so)
    arrays = [data[n] for n in names]
    if fmt == "saved-model":
        signature = tf.saved_model.load(model_path).signatures["serving_default"]
        keys = list(signature.structured_input_signature[1])
        bases = [n.split(":")[0] for n in names]  # tfjs names the inputs as the signature does
        if sorted(bases) == sorted(keys):
            keys = bases

        def call(xs):
            return signature(**{k: tf.constant(x) for k, x in zip(keys, xs, strict=True)})
    else:
        from ..convert.source import load_keras_file

        model = load_keras_file(model_path)
        fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))

        def call(xs):
            return fn(*[tf.constant(x) for x in xs])

    def one(k: int) -> None:
        out = call([a[k : k + 1] for a in arrays])
        for t in tf.nest.flatten(out):
            t.numpy()  # the result read back, as the browser runtimes do

    one(0)  # tracing and the thread pools' start are not an example's time
    n = len(arrays[0])
    per_round = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for k in range(n):
            one(k)
        per_round.append((time.perf_counter() - t0) * 1000 / n)
    return {"ms_per_example": per_round, "threads": threads, "tensorflow_version": tf.__version__}


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = json.loads(open(sys.argv[1]).read())
    result = time_tf(args["model"], args["format"], args["inputs"], args["threads"], args["rounds"])
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
