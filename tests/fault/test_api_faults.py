"""The Kubernetes API failing for a while (HTTP 500 and 504 answers, slow answers) on a provisioned demo: the
run fails at once with a message that says what the API answered, or gets through; it never hangs.

Every run has a wall-clock bound (OfflineDemo.run kills a run that outlives it and fails the test as a hang).
The faults are set on the emulator with POST /_harness/faults (tests/harness/README.md).
"""

import pytest

from tests.e2e._demo import FULL_DEMO
from tests.fault.conftest import make_demo

# Far longer than a provisioning run takes on this offline cluster, far shorter than a hang.
BOUND = 150


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory):
    demo = make_demo(tmp_path_factory.mktemp("api-faults"))
    try:
        demo.run_ok(FULL_DEMO, timeout=BOUND)
        yield demo
    finally:
        demo.stop()


@pytest.fixture
def demo(provisioned):
    demo = provisioned
    demo.client.clear_faults()
    demo.client.reset_stats()
    yield demo
    demo.client.clear_faults()


def test_500s_from_the_start_stop_the_run_in_preflight_before_any_write(demo):
    demo.client.set_fault(status=500, count=5)
    run = demo.run(FULL_DEMO, timeout=BOUND)
    assert run.returncode != 0 and run.changed == 0, run.explain()
    stats = demo.client.stats()
    assert stats["faults_injected"] >= 1 and stats["writes"] == 0, stats
    message = run.failure_message()
    assert "does not answer" in message and "Fix:" in message, message


@pytest.mark.parametrize("status", [500, 504])
def test_errors_while_bookinfo_is_applied_fail_at_once_naming_the_answer(demo, status):
    demo.client.set_fault(status=status, count=3, match="/namespaces/bookinfo")
    run = demo.run(FULL_DEMO, timeout=BOUND)
    assert run.returncode != 0 and run.failures == 1, run.explain()
    failed = run.failed_tasks()[-1]
    assert failed.name.startswith("istiolab.mesh.bookinfo : "), run.explain()
    assert str(status) in failed.msg and "bookinfo" in failed.msg, failed.msg
    assert run.changed == 0, run.explain()


def test_slow_answers_slow_the_run_down_and_it_still_converges(demo):
    delay, count = 1, 4
    demo.client.set_fault(delay=delay, count=count)
    run = demo.run(FULL_DEMO, timeout=BOUND)
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert run.changed == 0, run.explain()
    assert demo.client.stats()["faults_injected"] == count
    assert run.wall >= delay * count
