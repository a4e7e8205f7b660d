"""`quantlab delivery`: bytes over the wire and time to first prediction in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import ALL_DEMOS, check_demo_name
from ...errors import QuantlabError
from ...infra.progress import console
from ...runtimes.registry import BROWSER_BACKENDS
from ...tfjs import MODEL_JSON
from ..checks import (
    check_positive,
)
from ..guard import cli_errors
from ..options import (
    ModelsDir,
    OutDir,
    Timeout,
    Verbose,
    check_dirs,
)
from ..tables import print_json
from ..targets import model_path, resolve_subject


@cli_errors
def delivery(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"Demos ({', '.join(ALL_DEMOS)}; default: every demo with variants under MODELS, the others "
            "skipped with one line each): MODELS/DEMO/VARIANT/; or one MODEL path as given to `analyze` "
            "(the model itself, with the same --name; variants made from another model are refused): "
            "MODELS/NAME/VARIANT/",
            show_default=False,
        ),
    ] = None,
    profiles: Annotated[
        str | None,
        typer.Option(help="Network profiles, comma-separated: slow-4g, fast-4g, none (default: all three)"),
    ] = None,
    runs: Annotated[int, typer.Option(help="Runs per variant and profile (median and min/max)")] = 3,
    pages: Annotated[
        int,
        typer.Option(
            help="Pages (each its own headless Chromium) loading at once under the throttled profiles "
            "(short transfers, mostly CPU work, at most one per core); the unthrottled one always runs "
            "in one page, alone. 1: everything in one page, in turn"
        ),
    ] = 8,
    backend: Annotated[str, typer.Option(help="tfjs backend in the page: wasm, cpu, webgl")] = "wasm",
    name: Annotated[
        str | None, typer.Option(help="Name of a user's model (default: from the MODEL path, as analyze)")
    ] = None,
    max_model_mb: Annotated[
        float,
        typer.Option(help="A variant with more model bytes than this is reported too large, not loaded"),
    ] = 1024.0,
    out: OutDir = Path("reports"),
    models_dir: ModelsDir = Path("models"),
    timeout: Timeout = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the delivery record as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """What a user's browser gets: bytes over the wire and time to the first prediction.

    For each variant: model.json and shard bytes raw, gzip (level 6) and brotli (quality 5, as servers
    compress on the fly), the number of requests; then headless Chromium loads it from a loopback server
    that answers Accept-Encoding as a CDN does, under DevTools network emulation (Slow 4G, Fast 4G,
    none), and times the model loaded and the first prediction (median and min/max of --runs), with
    tf.memory() and the JS heap. Throttled loads run --pages at once (each page its own throttle); the
    unthrottled ones in one page, alone. Writes OUT/NAME/delivery.json (the page's Delivery
    section) for each demo. Examples: `quantlab delivery` (every demo with variants), `quantlab delivery mnist
    --runs 3`
    """
    from ...analysis.delivery import parse_profiles
    from ...analysis.delivery_run import check_runs, delivery_command, with_variants
    from ...analysis.delivery_schedule import check_pages
    from ...infra.chromium import browser_unavailable_reason
    from ..tables.delivery import print_delivery, print_total

    model = model_path(targets)
    if model is None:
        if name is not None:
            raise QuantlabError("--name goes with one MODEL path, not with demo names", exit_code=2)
        targets = [check_demo_name(t) for t in dict.fromkeys(targets or ALL_DEMOS)]
    names = parse_profiles(profiles)
    check_runs(runs)
    check_pages(pages)
    check_positive(timeout, "--timeout")
    check_positive(max_model_mb, "--max-model-mb")
    if backend not in BROWSER_BACKENDS:
        raise QuantlabError(f"unknown backend {backend!r}; valid: {', '.join(BROWSER_BACKENDS)}", exit_code=2)
    check_dirs(out=out, models_dir=models_dir)
    reason = browser_unavailable_reason(backend)
    if reason:
        from ...errors import RuntimeUnavailable

        raise RuntimeUnavailable(f"delivery needs the browser: {reason}")
    if model is not None and model.is_dir() and (model / "float32" / MODEL_JSON).is_file():
        raise QuantlabError(
            f"{model}: a folder of variants quantlab wrote, not a model; pass the MODEL given to `analyze` "
            f"(and its --name): its variants MODELS/NAME/ are what is measured",
            exit_code=2,
        )
    chosen = [(t, resolve_subject(t, models_dir, out, name=name)) for t in targets]
    for _, subject in chosen:
        subject.check_made_from()
    one = model is not None or len(chosen) == 1  # one target named: its missing variants are an error
    skipped: dict[str, str] = {}
    if not one:
        from ...errors import ArtifactError

        found, skipped = with_variants([s for _, s in chosen])
        if not found:
            raise ArtifactError(
                f"{models_dir}: no demo has tfjs variants here ({', '.join(skipped)}); "
                "run `quantlab run` or `quantlab analyze` first"
            )
        for n, why in skipped.items():
            console.print(f"{n}: skipped ({why})", highlight=False, soft_wrap=True)
        chosen = [(t, s) for t, s in chosen if s in found]
    records = delivery_command(chosen, names, runs, backend, timeout, max_model_mb, pages)
    if as_json:
        doc = (
            records[0] if one else {"records": records, "skipped": skipped, "seconds": records[0]["seconds"]}
        )
        print_json(doc)
    else:
        for record in records:
            print_delivery(record, alone=one)
        if not one:
            print_total(records)
