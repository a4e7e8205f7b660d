"""The demos: quantlab's built-in examples, clients of the same engine as a user's model.

Every demo has the same three steps, which the CLI calls without knowing which demo it is:
`prepare` (train, or for MobileNetV2 build Keras' pretrained model) -> MODELS/<demo>/keras/,
`quantize` (the converter's variants) -> MODELS/<demo>/<variant>/, and `evaluate` (every variant
in tfjs, the demo's own metric) -> OUT/<demo>/results.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import QuantlabError
from ..workspace import keras_dir, model_root
from . import architectures
from .base import DemoSpec, Profile


@dataclass(frozen=True)
class DemoOptions:
    """What the CLI passes to a demo's steps; each demo reads the options that concern it."""

    data_dir: Path | None = None
    quick: bool = False
    seed: int = 1337
    limit: int | None = None  # None: the demo's default; 0: every test example
    # MobileNetV2
    weights: Path | None = None
    preprocessing: str = "keras"
    alpha: float = 1.0
    image_size: int = 224
    litert: str | None = None  # a LiteRT.js runtime: the LiteRT variants too (trained demos)
    timeout: float = 600.0


@dataclass(frozen=True)
class Demo(DemoSpec):
    """A trained demo: its definition (base.DemoSpec) and its three steps."""

    def prepare(self, models_dir: Path, opts: DemoOptions) -> dict:
        from .pipeline import train_step

        return train_step(self, models_dir, opts.data_dir, opts.quick, opts.seed)

    def quantize(self, models_dir: Path, variants=None, data_dir: Path | None = None) -> dict:
        from .pipeline import quantize_step

        return quantize_step(self, models_dir, *([variants] if variants else []))

    def evaluate(
        self, runtime, models_dir: Path, out_dir: Path, opts: DemoOptions, variants=None, config=None
    ):
        from ..convert.converter import VARIANTS
        from .pipeline import evaluate_step

        limit = None if opts.limit == 0 else opts.limit or self.profile(opts.quick).test_limit  # 0: all
        return evaluate_step(
            self, models_dir, out_dir, opts.data_dir, runtime, variants or VARIANTS, limit, config,
            opts.litert, opts.timeout,
        )  # fmt: skip


@dataclass(frozen=True)
class PretrainedImageDemo:
    """MobileNetV2: Keras' ImageNet weights, not trained here; evaluated on the sample images.
    `output_format` "layers": the converter's Keras road (BatchNorm kept as its own layers);
    "graph": SavedModel -> stock converter graph model (BatchNorm folded into the kernels)."""

    name: str = "mobilenetv2"
    title: str = "MobileNetV2"
    task: str = "features"
    note: str = "Keras' ImageNet MobileNetV2; backbone or full mode from the weights file found."
    output_format: str = "layers"
    sibling: str | None = None  # the same weights in the other format, shown side by side
    extra_variants: tuple[str, ...] = ()  # made and measured beside the four standard ones

    @property
    def variants(self) -> list[str]:
        from ..convert.converter import VARIANTS

        return [*VARIANTS, *self.extra_variants]

    def prepare(self, models_dir: Path, opts: DemoOptions) -> dict:
        from .mobilenet.model import prepare_mobilenet

        return prepare_mobilenet(
            models_dir, opts.data_dir, opts.weights, opts.alpha, opts.image_size, name=self.name
        )

    def quantize(self, models_dir: Path, variants=None, data_dir: Path | None = None) -> dict:
        """data_dir: the graph demo calibrates bias correction on its sample images."""
        from .pipeline import quantize_step

        if self.output_format == "graph":
            import time

            from ..infra.progress import log
            from .mobilenet.variants import write_graph_variants
            from .train import load_trained

            model, _ = load_trained(keras_dir(models_dir, self.name))
            t0 = time.perf_counter()
            paths = write_graph_variants(
                model, model_root(models_dir, self.name), variants or self.variants, data_dir
            )
            seconds = time.perf_counter() - t0
            log.info("wrote %s graph variants %s in %.1f s", self.name, ", ".join(paths), seconds)
            return paths
        return quantize_step(self, models_dir, *([variants] if variants else []))

    def evaluate(
        self, runtime, models_dir: Path, out_dir: Path, opts: DemoOptions, variants=None, config=None
    ):
        from .mobilenet.evaluate import evaluate_mobilenet

        limit = None if opts.limit == 0 else opts.limit or (50 if opts.quick else None)  # 0: all
        return evaluate_mobilenet(
            runtime, models_dir, out_dir, opts.data_dir, opts.preprocessing, limit,
            variants=variants or self.variants, config=config, name=self.name, title=self.title,
            sibling=self.sibling,
        )  # fmt: skip


def _housing(data_dir):
    from .datasets.housing import load_housing

    return load_housing(data_dir)


def _mnist(data_dir):
    from .datasets.idx import load_idx_dataset

    return load_idx_dataset("mnist", data_dir)


def _fashion(data_dir):
    from .datasets.idx import load_idx_dataset

    return load_idx_dataset("fashion-mnist", data_dir)


DEMOS: dict[str, Demo | PretrainedImageDemo] = {
    d.name: d
    for d in (
        Demo(
            "housing",
            "housing: multi-layer regressor",
            "regression",
            "mae",
            _housing,
            architectures.housing_mlp,
            full=Profile(epochs=200),
            quick=Profile(epochs=3),
            seed={"float32": 0.311984, "uint16": 0.311983, "uint8": 0.312780},
            validation_split=0.2,
            note="The seed trained on a 10k-row CSV with a 0.7/0.2/0.1 split; we train on the "
            "17,000-row sample file (20% validation) and test on the separate 3,000-row file.",
        ),
        Demo(
            "mnist",
            "MNIST: convnet",
            "classification",
            "accuracy",
            _mnist,
            architectures.mnist_convnet,
            full=Profile(epochs=8, cosine_decay=True),
            quick=Profile(epochs=1, train_limit=3000, test_limit=1000),
            seed={"float32": 0.9952, "uint16": 0.9952, "uint8": 0.9952},
            note="The seed trained up to 100 epochs with early stopping in tfjs-node; we train 8 "
            "epochs in tf-keras with RMSprop's learning rate decayed to 0 on a cosine schedule.",
        ),
        Demo(
            "fashion-mnist",
            "Fashion MNIST: convnet",
            "classification",
            "accuracy",
            _fashion,
            architectures.fashion_convnet,
            full=Profile(epochs=12, cosine_decay=True),
            quick=Profile(epochs=1, train_limit=3000, test_limit=1000),
            seed={"float32": 0.922, "uint16": 0.922, "uint8": 0.9211},
            note="The seed trained up to 100 epochs with early stopping in tfjs-node; we train 12 "
            "epochs in tf-keras with Adam's learning rate decayed to 0 on a cosine schedule.",
        ),
    )
}


MOBILENET = "mobilenetv2"
MOBILENET_GRAPH = "mobilenetv2-graph"
DEMOS[MOBILENET] = PretrainedImageDemo(sibling=MOBILENET_GRAPH)
DEMOS[MOBILENET_GRAPH] = PretrainedImageDemo(
    name=MOBILENET_GRAPH,
    title="MobileNetV2 (graph model)",
    note="The same Keras ImageNet MobileNetV2, saved as a SavedModel and converted by the stock "
    "converter to a tfjs graph model: BatchNorm is folded into the conv kernels, the form most tfjs "
    "models in the wild take.",
    output_format="graph",
    sibling=MOBILENET,
    extra_variants=("equalized", "equalized-uint8", "equalized-bc-uint8"),  # mobilenet.variants.EQUALIZED
)
ALL_DEMOS = list(DEMOS)


def is_image_demo(name: str) -> bool:
    """The pretrained image demos (MobileNetV2 layers and graph): 1000 sample images, no training."""
    return isinstance(DEMOS.get(name), PretrainedImageDemo)


def check_demo_name(name: str) -> str:
    if name not in DEMOS:
        raise QuantlabError(f"unknown demo {name!r}; valid demos: {', '.join(DEMOS)}", exit_code=2)
    return name


def get_demo(name: str) -> Demo | PretrainedImageDemo:
    return DEMOS[check_demo_name(name)]
