"""Progress bars: piped output (CI, log files) gets plain lines while the work goes on."""

import logging

from quantlab.infra import progress as progress_mod


def test_piped_progress_logs_lines_while_running(monkeypatch, caplog):
    monkeypatch.setattr(progress_mod._Progress, "LOG_EVERY_S", 0.0)
    monkeypatch.setattr(progress_mod.log, "propagate", True)
    caplog.set_level(logging.INFO, logger="quantlab")
    assert not progress_mod.console.is_terminal  # pytest captures stderr
    with progress_mod.progress() as bar:
        task = bar.add_task("sweep", total=3, info="")
        for i in range(3):
            bar.update(task, advance=1, info=f"layer{i}")
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("sweep: 2/3 layer1") for line in lines), lines
