"""A full-demo run killed mid-way (every process of it, as a power cut or a cancelled CI job does) converges on
the next run with nothing duplicated.

One demo is interrupted three times in a row, each run further than the one before: while the Istio archive
downloads (a slow release server keeps the download open), while `istioctl install` runs (its call is in
cli-calls.jsonl and the control plane's objects are being created), and while Bookinfo is being applied (its
first Deployment exists). Each interrupted run had to recover from the previous kill to reach its own kill
point; the fourth run must complete.
"""

import glob
import os

import pytest

from tests.e2e._demo import FULL_DEMO, PROFILE, SUMMARY_TASK
from tests.fault.conftest import SlowReleaseServer, assert_nothing_duplicated, make_demo, wait_for


def downloading(demo):
    return bool(glob.glob(os.path.join(demo.cache_dir, "**", ".download-*"), recursive=True))


def installing_istio(demo):
    return any(call["cli"] == "istioctl" and "install" in call["args"] for call in demo.calls())


def applying_bookinfo(demo):
    return bool(demo.client.list("/apis/apps/v1/namespaces/bookinfo/deployments"))


KILL_POINTS = (("the Istio download", downloading), ("istioctl install", installing_istio), ("the Bookinfo apply", applying_bookinfo))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """(demo, temporary files in the cache after the download was killed, the run after the last kill)."""
    demo = make_demo(tmp_path_factory.mktemp("killed"))
    slow = SlowReleaseServer(demo.release_root).start()
    try:
        demo.write_vars(istio_release_base_url=slow.base_url)
        leftovers = None
        for what, reached in KILL_POINTS:
            process = demo.spawn(FULL_DEMO)
            try:
                wait_for(process, lambda: reached(demo), what)
            finally:
                killed = demo.kill_all()
                process.communicate()
            assert process.pid in killed and process.returncode == -9, f"the run was not killed during {what}"
            if leftovers is None:
                leftovers = demo.cache_temp_files()
        yield demo, leftovers, demo.run(FULL_DEMO)
    finally:
        demo.stop()
        slow.stop()


def test_the_next_run_converges(interrupted):
    rerun = interrupted[2]
    assert rerun.returncode == 0 and rerun.failures == 0, rerun.explain()
    summary = rerun.lines(SUMMARY_TASK)
    assert any(line.startswith("Verified productpage through the gateway: passed") for line in summary), summary
    assert not any("FAILED" in line for line in summary), summary


def test_nothing_is_duplicated(interrupted):
    demo, rerun = interrupted[0], interrupted[2]
    assert rerun.returncode == 0, rerun.explain()
    assert_nothing_duplicated(demo)
    assert list(demo.profiles()) == [PROFILE]


def test_the_download_kill_left_a_partial_download(interrupted):
    leftovers = interrupted[1]
    assert leftovers and all(os.path.basename(path).startswith(".download-") for path in leftovers), (
        f"killing the download left {leftovers}, not the partial download the next test is about")


def test_no_temporary_file_is_left_in_the_cache(interrupted):
    demo, rerun = interrupted[0], interrupted[2]
    assert rerun.returncode == 0, rerun.explain()
    assert demo.cache_temp_files() == []
