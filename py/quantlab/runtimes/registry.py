"""The one list of runtime names: Keras in-process, tfjs in Node (one evaluator backend each, as
js/protocol.json lists them) and tfjs in headless Chromium (one page backend each, as
runtimes/browser.py sets them up). Everything that names a runtime or a backend reads it here."""

from __future__ import annotations

NODE_BACKENDS = ("wasm", "cpu", "tensorflow")  # js/protocol.json "backends"; tensorflow = tfjs-node
# browser-<name> -> (tfjs backend, tfjs flags set before the backend starts). webgl-f16 keeps every
# intermediate in 16-bit float textures, as many phone GPUs do (tensorflow/tfjs#1670):
# WEBGL_RENDER_FLOAT32_ENABLED is derived from WEBGL_FORCE_F16_TEXTURES in tfjs-backend-webgl 4.22's
# flags_webgl.js; both are set, and the page checks they took effect (precision probe). A backend
# that only sets flags is one line here; one that needs its own bundle is also mounted in browser.py.
PAGE_BACKENDS: dict[str, tuple[str, dict]] = {
    "cpu": ("cpu", {}),
    "wasm": ("wasm", {}),
    "webgl": ("webgl", {}),
    "webgl-f16": ("webgl", {"WEBGL_FORCE_F16_TEXTURES": True, "WEBGL_RENDER_FLOAT32_ENABLED": False}),
    "webgpu": ("webgpu", {}),
}
BROWSER_BACKENDS = tuple(PAGE_BACKENDS)
RUNTIMES = (
    "keras",
    *(f"node-{b}" for b in NODE_BACKENDS),
    *(f"browser-{b}" for b in BROWSER_BACKENDS),
)
# tfjs wasm and cpu run on one thread in Node (tfjs#3830): a pool runs one evaluator per core.
ONE_THREAD = ("node-wasm", "node-cpu")
