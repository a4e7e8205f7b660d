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
