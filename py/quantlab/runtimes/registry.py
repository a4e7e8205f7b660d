"""The one list of runtime names: Keras in-process, tfjs in Node (one evaluator backend each, as
js/protocol.json lists them) and tfjs in headless Chromium (one page backend each, as
runtimes/browser.py sets them up). Everything that names a runtime or a backend reads it here."""

from __future__ import annotations

NODE_BACKENDS = ("wasm", "cpu", "tensorflow")  # js/protocol.json "backends"; tensorflow = tfjs-node
BROWSER_BACKENDS = ("cpu", "wasm", "webgl", "webgl-f16", "webgpu")
RUNTIMES = (
    "keras",
    *(f"node-{b}" for b in NODE_BACKENDS),
    *(f"browser-{b}" for b in BROWSER_BACKENDS),
)
# tfjs wasm and cpu run on one thread in Node (tfjs#3830): a pool runs one evaluator per core.
ONE_THREAD = ("node-wasm", "node-cpu")
