"""Bad options, names, folders and concurrent runs, through the real CLI: each is one line and its
exit code, before any long work, and nothing is written. They run the CLI in this process
(`invoke_cli`); the last test checks that a real process gives the same lines and exit codes."""

from pathlib import Path

import pytest

from quantlab import workspace
from quantlab.cli.checks import check_limit, check_non_negative, check_positive, check_seed
from quantlab.errors import QuantlabError
from tests.conftest import invoke_cli, run_cli


def _one_error(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


def _nothing_written(root) -> None:
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == []


BAD_NUMBERS = [
    (["evaluate", "housing", "--limit", "-5"], "--limit -5"),
    (["evaluate", "housing", "--timeout", "0"], "--timeout 0.0"),
    (["evaluate", "housing", "--timeout", "nan"], "--timeout nan"),
    (["run", "housing", "--limit", "-1"], "--limit -1"),
    (["run", "housing", "--seed", "-1"], "--seed -1"),
    (["run", "housing", "--seed", str(2**32)], f"--seed {2**32}"),
    (["run", "housing", "--timeout", "inf"], "--timeout inf"),
    (["run", "mobilenetv2", "--alpha", "0"], "--alpha 0.0"),
    (["run", "mobilenetv2", "--alpha", "nan"], "--alpha nan"),
    (["run", "mobilenetv2", "--image-size", "0"], "--image-size 0"),
    (["run", "mobilenetv2", "--image-size", "-224"], "--image-size -224"),
    (["train", "housing", "--seed", "-3"], "--seed -3"),
    (["parity", "housing", "--atol", "-1"], "--atol -1.0"),
    (["parity", "housing", "--atol", "inf"], "--atol inf"),
    (["parity", "housing", "--rtol", "nan"], "--rtol nan"),
    (["parity", "housing", "--limit", "-2"], "--limit -2"),
    (["parity", "housing", "--timeout", "-1"], "--timeout -1.0"),
    (["tune", "housing", "--max-drop", "nan"], "--max-drop nan"),
    (["tune", "housing", "--max-drop", "-1"], "--max-drop -1.0"),
    (["tune", "housing", "--max-drop", "inf"], "--max-drop inf"),
    (["tune", "housing", "--max-drop", "1.5", "--relative"], "--max-drop 1.5: must be between 0 and 1"),
    (["tune", "housing", "--max-drop", "0.01", "--limit", "-1"], "--limit -1"),
    (["tune", "housing", "--max-drop", "0.01", "--timeout", "0"], "--timeout 0.0"),
    (["bench", "--limit", "-1"], "--limit -1"),
    (["delivery", "housing", "--pages", "0"], "--pages 0: must be a positive integer"),
    (["delivery", "--pages", "-3"], "--pages -3: must be a positive integer"),
    (["delivery", "mnist", "housing", "--runs", "0"], "--runs 0"),
    (["delivery", "mnist", "--name", "mine"], "--name goes with one MODEL path"),
    (["run", "mobilenetv2", "--preprocessing", "bogus"], "--preprocessing 'bogus': valid: keras, seed"),
    (["run", "housing", "--backend", "bogus"], "--backend 'bogus': valid: wasm, cpu, tensorflow"),
    (["evaluate", "housing", "--backend", "gpu"], "--backend 'gpu': valid:"),
    (["evaluate", "mobilenetv2", "--preprocessing", "raw"], "--preprocessing 'raw'"),
    (["evaluate", "mnist", "--variant", "../x"], "--variant '../x': use one plain name"),
    (["tune", "housing", "--max-drop", "0.01", "--backend", "gpu"], "valid: wasm, cpu, tensorflow, auto"),
    (["tune", "tests/fixtures/tiny_dense", "--max-drop", "0.01", "--seed", "-1"], "--seed -1"),
    (["quantize", "tests/fixtures/tiny_dense", "--map", "int4=*"], "--map 'int4=*': unknown dtype 'int4'"),
    (["quantize", "tests/fixtures/tiny_dense", "--name", "x"], "--name x: names the --map variant"),
    (["analyze", "tests/fixtures/tiny_dense", "--map", "int4=*"], "valid: float16, uint16, uint8"),
    (["analyze", "tests/fixtures/tiny_dense", "--min-effect", "cosine=0.1"], "--min-effect 'cosine=0.1'"),
    (["equalize", "tests/fixtures/js/seq_batchnorm", "--out", "x"], "a tfjs layers model; equalize works on"),
    (["tune", "tests/fixtures/tiny_dense", "--max-drop", "0.01", "--samples", "0"], "--samples 0"),
    (["bench", "--backend", "gpu"], "--backend 'gpu'"),
    (["bench", "mnist"], "mnist: a demo; `quantlab bench` without MODEL times MNIST"),
    (["delivery", "tests/fixtures/tiny_dense", "--profiles", "warp"], "unknown"),
    (["analyze", "tests/fixtures/tiny_dense", "--seed", "-1"], "--seed -1"),
    (["parity", "housing", "--seed", str(2**32)], f"--seed {2**32}"),
    (["equalize", "tests/fixtures/tiny_dense", "--seed", "-2"], "--seed -2"),
]


@pytest.mark.parametrize("args,expected", BAD_NUMBERS, ids=[" ".join(a) for a, _ in BAD_NUMBERS])
def test_bad_numbers_are_one_line_exit_2_before_any_work(args, expected, tmp_path):
    dirs = [] if args[0] == "equalize" else ["--models-dir", str(tmp_path / "models")]
    if args[0] not in ("train", "bench", "quantize"):
        dirs += ["--out", str(tmp_path / "out")]
    proc = invoke_cli(*args, *dirs)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert expected in _one_error(proc)
    _nothing_written(tmp_path)


def test_check_helpers():
    assert check_limit(None) is None and check_limit(0) is None and check_limit(7) == 7
    with pytest.raises(QuantlabError, match=r"--limit 0: must be a positive integer$"):
        check_limit(0, zero_means=None)
    with pytest.raises(QuantlabError, match=r"\(0 = the full set\)"):
        check_limit(-1, zero_means="the full set")
    for bad in (True, 1.5, float("nan")):
        with pytest.raises(QuantlabError):
            check_limit(bad)
    check_non_negative(0.0, "--atol")
    check_non_negative(1.0, "--max-drop", at_most=1.0)
    for bad in (-1e-9, float("nan"), float("-inf"), True):
        with pytest.raises(QuantlabError, match="must be a finite number >= 0"):
            check_non_negative(bad, "--atol")
    check_positive(1e-9, "--timeout")
    with pytest.raises(QuantlabError):
        check_positive(0, "--timeout")
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    for bad in (-1, 2**32, True):
        with pytest.raises(QuantlabError, match="--seed"):
            check_seed(bad)


BAD_NAMES = ["../../../x", "a/b", ".", "..", "", ".hidden", "-x", "keras", "float32", "uint8", "tuned"]
BAD_NAMES += ["KERAS", "index.html", "x" * 65]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_quantize_name_is_one_plain_unreserved_name(name, tmp_path):
    models = tmp_path / "models"
    (models / "housing" / "keras").mkdir(parents=True)
    (models / "housing" / "keras" / "model.h5").write_bytes(b"the user's trained model")
    proc = invoke_cli("quantize", "housing", "--map", "uint8=*", "--name", name, "--models-dir", str(models))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"--name {name!r}" in _one_error(proc)
    assert (models / "housing" / "keras" / "model.h5").read_bytes() == b"the user's trained model"
    assert sorted(p.name for p in (models / "housing").iterdir()) == ["keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_quantize_map_demo_must_be_a_demo_or_a_model(tmp_path):
    proc = invoke_cli("quantize", "notademo", "--map", "uint8=*", "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 2 and "unknown demo 'notademo'" in _one_error(proc)
    _nothing_written(tmp_path)
    # a path is a MODEL: a missing one is a missing model artifact (exit 4), nothing written
    proc = invoke_cli("quantize", "../../x", "--map", "uint8=*", "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 4 and "../../x: no such file or folder" in _one_error(proc)
    _nothing_written(tmp_path)


def test_quantize_name_never_replaces_a_users_folder(tmp_path):
    mine = tmp_path / "models" / "housing" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    proc = invoke_cli(
        "quantize", "housing", "--map", "uint8=*", "--name", "mine", "--models-dir", str(tmp_path / "models")
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "holds files quantlab did not write (notes.txt)" in _one_error(proc)
    assert (mine / "notes.txt").read_text() == "mine"


def test_a_variant_folder_quantlab_wrote_may_be_replaced(small_convnet_dir, tmp_path):
    import shutil

    from quantlab.demos.pipeline import check_replaceable_variant

    shutil.copytree(small_convnet_dir / "uint8", tmp_path / "custom")
    check_replaceable_variant(tmp_path / "custom")  # model.json + shards: quantlab's own
    check_replaceable_variant(tmp_path / "absent")
    (tmp_path / "custom" / "README").write_text("x")
    with pytest.raises(QuantlabError, match="README"):
        check_replaceable_variant(tmp_path / "custom")
    (tmp_path / "file").write_text("x")
    with pytest.raises(QuantlabError, match="not a folder"):
        check_replaceable_variant(tmp_path / "file")


DIR_COMMANDS = [
    ["run", "housing"],
    ["train", "housing"],
    ["quantize", "housing"],
    ["evaluate", "housing"],
    ["parity", "housing"],
    ["tune", "housing", "--max-drop", "0.01"],
    ["report"],
    ["bench"],
]


@pytest.mark.parametrize("args", DIR_COMMANDS, ids=[a[0] for a in DIR_COMMANDS])
def test_out_or_models_dir_under_a_file_or_too_long(args, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    options = [o for o in ("--out", "--models-dir") if o not in _missing_options(args[0])]
    cases = [(afile / "sub", "is a file, not a folder")]
    if args[0] == "evaluate":  # the same check for every command: all cases for one of them
        cases += [(afile, "is a file, not a folder"), (tmp_path / ("a" * 256), "longer than 255 bytes")]
    for option in options:
        for bad, expected in cases:
            proc = invoke_cli(*args, option, str(bad))
            assert proc.returncode == 2, (option, bad, proc.stderr[-2000:])
            line = _one_error(proc)
            assert line.startswith(f"error: {option} ") and expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def _missing_options(command: str) -> set[str]:
    return {"train": {"--out"}, "quantize": {"--out"}, "bench": {"--out"}, "report": {"--models-dir"}}.get(
        command, set()
    )


LOCKED = [
    (["train", "housing"], "models"),
    (["quantize", "housing"], "models"),
    (["quantize", "housing", "--map", "uint8=*", "--name", "mixed"], "models"),
    (["evaluate", "housing"], "models"),
    (["evaluate", "housing"], "out"),
    (["run", "housing"], "models"),
    (["run", "housing"], "out"),
    (["parity", "housing"], "models"),
    (["parity", "housing"], "out"),
    (["tune", "housing", "--max-drop", "0.01", "--backend", "wasm"], "models"),
    (["tune", "housing", "--max-drop", "0.01", "--backend", "wasm"], "out"),
]


@pytest.mark.parametrize("args,which", LOCKED, ids=[f"{' '.join(a)} ({w})" for a, w in LOCKED])
def test_a_second_run_on_the_same_folder_is_refused(args, which, tmp_path):
    """This process holds the lock a first run would hold; the CLI must stop at once, not mix."""
    models, out = tmp_path / "models", tmp_path / "out"
    dirs = ["--models-dir", str(models)]
    if args[0] not in ("train", "quantize"):
        dirs += ["--out", str(out)]
    held = (models if which == "models" else out) / "housing"
    with workspace.locked(held):
        proc = invoke_cli(*args, *dirs)
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = _one_error(proc)
    assert f"{held}: another quantlab run is writing here" in line
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert all(p.endswith(workspace.LOCK) for p in written), written


@pytest.mark.parametrize("args", [["train", "housing"], ["evaluate", "housing"], ["bench"]])
def test_data_dir_that_cannot_exist_is_bad_usage_not_a_traceback(args, tmp_path):
    proc = invoke_cli(*args, "--data-dir", str(tmp_path / ("d" * 300)), "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--data-dir" in _one_error(proc) and "longer than 255 bytes" in proc.stderr
    _nothing_written(tmp_path)


def test_weights_path_that_cannot_exist_is_bad_usage(tmp_path):
    proc = invoke_cli("run", "mobilenetv2", "--weights", str(tmp_path / ("w" * 300 + ".h5")),
                   "--models-dir", str(tmp_path / "m"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert _one_error(proc).startswith("error: --weights ")


def test_data_command_with_a_data_dir_that_cannot_exist(tmp_path):
    proc = invoke_cli("data", "--data-dir", str(tmp_path / ("d" * 300)))
    assert proc.returncode == 2 and "longer than 255 bytes" in _one_error(proc)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc (a folder no one can write)")
def test_an_out_folder_that_cannot_be_written_is_one_line(tmp_path):
    out = "/proc/quantlab-cannot-write"
    proc = invoke_cli("evaluate", "housing", "--out", out, "--models-dir", str(tmp_path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "/proc/quantlab-cannot-write/housing: cannot write here" in _one_error(proc)


@pytest.mark.parametrize("command", [["evaluate"], ["quantize"], ["tune", "--max-drop", "0.01"]])
def test_a_missing_model_file_is_named_as_a_model_not_an_unknown_demo(command, tmp_path):
    proc = invoke_cli(
        command[0], "nosuch.h5", *command[1:], "--models-dir", str(tmp_path / "m"), cwd=tmp_path
    )
    assert proc.returncode == 4, proc.stderr[-2000:]
    line = _one_error(proc)
    assert "nosuch.h5: no such file or folder; MODEL is" in line and "unknown demo" not in line
    _nothing_written(tmp_path)


@pytest.mark.parametrize("command", [["quantize"], ["tune", "--max-drop", "0.01"]])
def test_a_model_named_like_a_demo_never_writes_into_the_demos_folder(command, tmp_path):
    """tests/fixtures/js/seq_batchnorm copied as a folder named `mnist`: MODELS/mnist/ is the mnist
    demo's, so quantize and tune (which take no --name for the model) refuse it."""
    import shutil

    model = tmp_path / "in" / "mnist"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "js" / "seq_batchnorm", model)
    models = tmp_path / "m"
    proc = invoke_cli(command[0], str(model), *command[1:], "--models-dir", str(models))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "is a demo's" in _one_error(proc) and "--name" in _one_error(proc)
    assert not models.exists()


def test_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    kept = tmp_path / "kept.npz"
    kept.write_bytes(b"mine")
    cases = [
        (["data", "--export", "housing", "--export-to", str(afile / "x.npz")], "is a file, not a folder"),
        (["data", "--export", "housing", "--export-to", str(kept)], "exists; remove it or choose another"),
        (["data", "--export", "housing", "--export-to", str(tmp_path / ("a" * 300 + ".npz"))], "255 bytes"),
        (["serve", "--out", str(afile)], "is a file, not a folder"),
        (["quantize", "tests/fixtures/tiny_dense", "--models-dir", str(afile / "m")], "is a file"),
        (["equalize", "tests/fixtures/tiny_dense", "--out", str(afile / "eq")], "is a file"),
        (["bench", "--analyze", "--models-dir", str(afile / "m")], "is a file"),
    ]
    for args, words in cases:
        proc = invoke_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert words in _one_error(proc), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "kept.npz"]
    assert afile.read_text() == "mine" and kept.read_bytes() == b"mine"


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "mnist", "--format", "tfjs-layers"],
        ["quantize", "mnist", "--format", "keras-h5"],
        ["tune", "mnist", "--max-drop", "0.01", "--format", "tfjs-layers"],
        ["evaluate", "mnist", "--seed", "3"],
        ["evaluate", "housing", "--task", "fidelity"],
        ["evaluate", "mnist", "--input-shape", "x:1"],
        ["evaluate", "mnist", "--inputs", "x.npz"],
        ["evaluate", "mnist", "--name", "mine"],
        ["tune", "mnist", "--max-drop", "0.01", "--input-range", "0,2"],
        ["tune", "mnist", "--max-drop", "0.01", "--inputs", "x.npz"],
    ],
    ids=[
        "evaluate",
        "quantize",
        "tune",
        "seed",
        "task",
        "input-shape",
        "inputs",
        "name",
        "range",
        "tune-inputs",
    ],
)
def test_model_only_options_are_refused_for_a_demo(args, tmp_path):
    proc = invoke_cli(*args, "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"error: {args[-2]}: only for your MODEL, not a demo"]
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", ["analyze", "evaluate", "quantize", "tune"])
def test_an_unknown_format_is_named_with_the_valid_ones(command, tmp_path):
    model = Path(__file__).parents[1] / "fixtures" / "js" / "seq_batchnorm"
    extra = ["--max-drop", "0.01"] if command == "tune" else []
    proc = invoke_cli(command, str(model), "--format", "onnx", *extra, "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert "--format 'onnx'" in line and "tfjs-graph" in line
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "args,code,expected",
    [
        (["evaluate", "housing", "--limit", "-5"], 2, "--limit -5"),
        (["quantize", "nosuch.h5"], 4, "nosuch.h5: no such file or folder"),
        (["evaluate", "housing", "--nope"], 2, "No such option: --nope"),
    ],
    ids=["bad-number", "missing-model", "unknown-option"],
)
def test_a_real_process_exits_with_the_same_code_and_line(args, code, expected, tmp_path):
    """The in-process runner above and `python -m quantlab.cli` agree: the exit code is the
    process's, the error line is on its stderr, and no traceback."""
    dirs = ["--models-dir", str(tmp_path / "m")]
    for proc in (run_cli(*args, *dirs, cwd=tmp_path), invoke_cli(*args, *dirs, cwd=tmp_path)):
        assert proc.returncode == code, proc.stderr[-2000:]
        assert expected in proc.stderr and "Traceback" not in proc.stderr
    _nothing_written(tmp_path)
