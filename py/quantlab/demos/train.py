"""Train a demo's model in tf-keras, seeded, and save it with its training record."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..infra.fsutil import atomic_dir, write_json_atomic
from ..infra.progress import log, progress
from ..infra.test_hooks import hold
from ..infra.tfcompat import keras, seed_everything
from .base import DemoSpec, Profile
from .datasets.base import Dataset

KERAS_FILE = "model.h5"
RECORD_FILE = "train.json"


@dataclass
class TrainResult:
    model: object
    record: dict


def _progress_callback(epochs: int, steps: int):
    k = keras()
    # A per-batch hook makes Keras sync its logs every step: worth it only for long epochs.
    batch_bar = steps >= 200

    from ..infra.signals import check_pending

    class RichProgress(k.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress()
            self.bar.start()
            self.epoch_task = self.bar.add_task("epochs", total=epochs, info="")
            if batch_bar:
                self.batch_task = self.bar.add_task("  batches", total=steps, info="")

        def on_epoch_begin(self, epoch, logs=None):
            check_pending()  # a SIGTERM Keras or an import swallowed stops training here
            if batch_bar:
                self.bar.reset(self.batch_task, total=steps)

        def on_epoch_end(self, epoch, logs=None):
            info = " ".join(f"{k_} {v:.4f}" for k_, v in (logs or {}).items())
            self.bar.update(self.epoch_task, completed=epoch + 1, info=info)
            if not self.bar.console.is_terminal and (epoch + 1) % max(1, epochs // 10) == 0:
                log.info("epoch %d/%d: %s", epoch + 1, epochs, info)
            hold("train-epoch")

        def on_train_end(self, logs=None):
            self.bar.stop()

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(
            self.batch_task, completed=batch + 1, info=f"loss {logs.get('loss', float('nan')):.4f}"
        )

    if batch_bar:  # defined only when wanted: Keras skips the per-step sync otherwise
        RichProgress.on_train_batch_end = on_train_batch_end
    return RichProgress()


def _decay_learning_rate(model, total_steps: int, metrics: list[str] | None) -> None:
    """Recompile with the same optimizer class, its default rate decayed to 0 (cosine)."""
    k = keras()
    opt = model.optimizer
    schedule = k.optimizers.schedules.CosineDecay(float(opt.learning_rate.numpy()), decay_steps=total_steps)
    model.compile(loss=model.loss, optimizer=type(opt)(learning_rate=schedule), metrics=metrics)


def train(demo: DemoSpec, data: Dataset, profile: Profile, seed: int = 1337) -> TrainResult:
    """Fit the demo's model; validation is a seeded shuffle's tail (Keras takes the last rows)."""
    seed_everything(seed)
    x, y = data.x_train, data.y_train
    if profile.train_limit:
        x, y = x[: profile.train_limit], y[: profile.train_limit]
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    model = demo.build()
    n_fit = int(len(x) * (1 - demo.validation_split))
    steps = -(-n_fit // profile.batch_size)
    if profile.cosine_decay:
        metrics = ["accuracy"] if demo.task == "classification" else None
        _decay_learning_rate(model, steps * profile.epochs, metrics)
    log.info(
        "training %s: %d examples (%d for validation), %d epochs, batch %d",
        demo.name,
        len(x),
        len(x) - n_fit,
        profile.epochs,
        profile.batch_size,
    )
    t0 = time.perf_counter()
    history = model.fit(
        x,
        y,
        epochs=profile.epochs,
        batch_size=profile.batch_size,
        validation_split=demo.validation_split,
        shuffle=True,
        verbose=0,
        callbacks=[_progress_callback(profile.epochs, steps)],
    )
    seconds = time.perf_counter() - t0
    keras_test = model.evaluate(
        data.x_test[: profile.test_limit], data.y_test[: profile.test_limit], verbose=0, return_dict=True
    )
    record = {
        "demo": demo.name,
        "seed": seed,
        "epochs": profile.epochs,
        "batch_size": profile.batch_size,
        "lr_schedule": "cosine decay to 0" if profile.cosine_decay else "constant",
        "n_train": int(n_fit),
        "n_validation": len(x) - n_fit,
        "train_seconds": round(seconds, 2),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "keras_test": {k: float(v) for k, v in keras_test.items()},
        "dataset_extra": data.extra,
    }
    log.info(
        "trained %s in %.1f s; Keras test %s",
        demo.name,
        seconds,
        ", ".join(f"{k} {v:.4f}" for k, v in record["keras_test"].items()),
    )
    return TrainResult(model, record)


def save_trained(result: TrainResult, folder: Path) -> Path:
    with atomic_dir(folder) as tmp:
        result.model.save(tmp / KERAS_FILE)
        write_json_atomic(tmp / RECORD_FILE, result.record)
    return folder


# The last Keras models loaded, by file identity. `run` loads a demo's model to quantize, to
# correct biases and to evaluate it: MobileNetV2 is rebuilt layer by layer each time (4 s). The
# model is only read (converter.py changes a clone), so one load serves them all.
_LOADED: OrderedDict[tuple, object] = OrderedDict()
_KEEP_LOADED = 2


def load_trained(folder: Path):
    from ..errors import ArtifactError

    path = folder / KERAS_FILE
    if not path.is_file():
        demo = folder.parent.name
        how = f"quantlab run {demo}" if demo == "mobilenetv2" else f"quantlab train {demo}"
        raise ArtifactError(f"{path}: no trained model; run `{how}` (or `quantlab run {demo}`) first")
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)  # a rewritten file is a new key
    model = _LOADED.get(key)
    if model is None:
        try:
            model = keras().models.load_model(path)
        except Exception as e:  # h5py / Keras raise many types for bad files
            raise ArtifactError(f"{path}: cannot be loaded as a Keras model ({e})") from e
        _LOADED[key] = model
        while len(_LOADED) > _KEEP_LOADED:
            _LOADED.popitem(last=False)
    return model, read_record(folder)


def read_record(folder: Path) -> dict:
    """MODELS/<demo>/keras/train.json: a JSON object, else one line naming the file (exit 4)."""
    import json

    from ..errors import ArtifactError

    path = Path(folder) / RECORD_FILE
    demo = Path(folder).parent.name
    redo = f"re-create it with `quantlab train {demo}` (or `quantlab run {demo}`)"
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; {redo}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise ArtifactError(f"{path}: not readable JSON ({type(e).__name__}); {redo}") from None
    if not isinstance(record, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(record).__name__}; {redo}")
    return record
