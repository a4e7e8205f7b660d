import pytest

from quantlab.demos.base import Profile
from quantlab.demos.registry import get_demo
from quantlab.demos.train import train


@pytest.mark.parametrize("name", ["housing", "mnist"])
def test_cosine_decay_profile_trains_and_records_it(name, data_dir):
    demo = get_demo(name)
    data = demo.load(data_dir)
    profile = Profile(epochs=2, train_limit=1000, test_limit=200, cosine_decay=True)
    result = train(demo, data, profile, seed=3)
    record = result.record
    assert record["lr_schedule"] == "cosine decay to 0" and record["epochs"] == 2
    assert len(record["history"]["loss"]) == 2 and record["history"]["loss"][1] < record["history"]["loss"][0]
    schedule = result.model.optimizer._learning_rate  # the schedule object behind learning_rate
    assert float(schedule(0)) > 0 and float(schedule(10**6)) == pytest.approx(0.0, abs=1e-9)
    if demo.task == "classification":
        assert "accuracy" in record["keras_test"]


def test_a_trained_model_is_loaded_once_until_its_file_changes(tmp_path):
    """load_trained keeps the last models it loaded, by file identity: the same file gives the same
    model (no second rebuild); a file rewritten in its place (a new inode, as save_trained's rename
    makes) is loaded again, and its own weights come back."""
    import json

    import numpy as np

    from quantlab.demos.train import KERAS_FILE, RECORD_FILE, load_trained
    from quantlab.infra.tfcompat import keras

    k = keras()
    folder = tmp_path / "keras"
    folder.mkdir()
    (folder / RECORD_FILE).write_text(json.dumps({"epochs": 1}))

    def save(value: float) -> None:
        model = k.Sequential([k.layers.InputLayer(input_shape=(2,)), k.layers.Dense(1, name="d")])
        model.get_layer("d").set_weights([np.full((2, 1), value, np.float32), np.zeros(1, np.float32)])
        model.save(folder / "new.h5")
        (folder / "new.h5").replace(folder / KERAS_FILE)

    save(1.0)
    first, record = load_trained(folder)
    assert record == {"epochs": 1}
    assert load_trained(folder)[0] is first
    save(2.0)
    second, _ = load_trained(folder)
    assert second is not first and float(second.get_layer("d").get_weights()[0][0, 0]) == 2.0
