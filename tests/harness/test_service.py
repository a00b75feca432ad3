"""tests/harness/service.py: start detached with a state file, idempotent start, stop until gone, status."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.harness import service

PROBE = "/index.txt"


def _serve(root):
    return ["tests.harness.fake_release", "serve", "--root", str(root)]


def _gone(pid):
    return not os.path.exists(f"/proc/{pid}")


def test_start_records_state_and_stop_leaves_no_process(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "index.txt").write_text("hello\n")
    directory = str(tmp_path / "state")
    state = service.start(directory, "demo", _serve(root), PROBE, extra={"root": str(root)})
    try:
        assert json.loads((tmp_path / "state" / "demo.json").read_text()) == state
        assert state["url"].startswith("http://127.0.0.1:") and state["root"] == str(root)
        with urllib.request.urlopen(state["url"] + PROBE, timeout=5) as answer:
            assert answer.read() == b"hello\n"
        # Detached: its own session, so it outlives the process and the terminal that started it.
        assert os.getsid(state["pid"]) == state["pid"]
        assert not (tmp_path / "state" / "demo.port").exists()
        assert service.status(directory, "demo", PROBE) == state
        assert service.start(directory, "demo", _serve(root), PROBE)["pid"] == state["pid"]
    finally:
        stopped = service.stop(directory, "demo")
    assert stopped is True
    assert _gone(state["pid"])
    assert not (tmp_path / "state" / "demo.json").exists()
    assert service.status(directory, "demo") is None
    assert service.stop(directory, "demo") is False


def test_start_replaces_a_recorded_service_that_no_longer_answers(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "index.txt").write_text("hello\n")
    directory = str(tmp_path)
    first = service.start(directory, "demo", _serve(root), PROBE)
    try:
        (root / "index.txt").unlink()  # the probe now gets 404: the recorded service does not answer
        assert service.status(directory, "demo") == first
        assert service.status(directory, "demo", PROBE) is None
        (root / "index.txt").write_text("again\n")
        service.write_state(service.state_path(directory, "demo"), dict(first, url="http://127.0.0.1:9"))
        second = service.start(directory, "demo", _serve(root), PROBE)
        assert second["pid"] != first["pid"]
        assert _gone(first["pid"]), "the stale process was left running"
    finally:
        service.stop(directory, "demo")
    assert _gone(second["pid"])


def test_a_service_that_exits_at_once_fails_with_its_log(tmp_path):
    with pytest.raises(service.ServiceStartError) as failed:
        service.start(str(tmp_path), "broken", ["tests.harness.fake_release", "serve"], PROBE, what="the broken service")
    message = str(failed.value)
    assert message.startswith("the broken service did not start within 10s (exit code 2)")
    assert "the following arguments are required: --root" in message
    assert str(tmp_path / "broken.log") in message
    assert not (tmp_path / "broken.json").exists()


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path):
    (tmp_path / "stubborn.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
        "time.sleep(60)\n")
    log = str(tmp_path / "stubborn.log")
    process = service.spawn(["stubborn"], log, {"PYTHONPATH": str(tmp_path)})

    def ready():
        with open(log, encoding="utf-8") as handle:
            return "ready" in handle.read()

    service.wait_until(process, ready, "stubborn", log)
    assert service.stop_pid(process.pid, timeout=0.5) is True
    assert _gone(process.pid) and process.returncode is not None
    assert service.stop_pid(process.pid) is False
