"""Fixtures and checks shared by the fault tests: each test gets an offline demo of its own (tests/e2e/_demo.py).

The faults are about provisioning, so these demos run the provisioning roles only: no traffic scenarios and no
observability addons, which keeps a full run to about half of the default demo's time.
"""

import functools
import hashlib
import os
import time

import pytest

from tests.e2e._demo import OfflineDemo, pinned
from tests.harness import fixtures
from tests.harness.apiserver import lifecycle
from tests.harness.fake_release import ReleaseServer

PROVISIONING_ONLY = {"mesh_scenarios": [], "mesh_observability_enabled": False}
INSTALL_RECORD_SELECTOR = "app.kubernetes.io/managed-by=istiolab.mesh.istio_install"
DEMO_NAMESPACES = ("istio-system", "bookinfo")
WRONG_DIGEST = "0" * 64


def make_demo(directory, **overrides):
    return OfflineDemo(directory, **dict(PROVISIONING_ONLY, **overrides)).start()


@pytest.fixture
def demo(tmp_path):
    started = make_demo(tmp_path / "demo")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def served(request):
    """Start ReleaseServer-like servers for a test and stop them after it: ``served(server)`` returns it started."""
    servers = []

    def start(server):
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def tamper_checksums(release_dir):
    """Replace every published .sha256 under ``release_dir`` with a wrong digest (the file names are kept)."""
    for top, _dirs, files in os.walk(release_dir):
        for name in files:
            if name.endswith(".sha256"):
                with open(os.path.join(top, name), "w", encoding="utf-8") as handle:
                    handle.write(f"{WRONG_DIGEST}  {name[:-len('.sha256')]}\n")


def build_minikube_release(root):
    """minikube's release layout, ``<root>/<tag>/minikube-<os>-<arch>`` with a bare-digest ``.sha256`` (as minikube
    publishes it); the binary runs the harness's fake minikube from this checkout."""
    binary = (
        "#!/usr/bin/env python3\n"
        "import sys\n"
        f"sys.path.insert(0, {lifecycle.REPO!r})\n"
        "from tests.harness.fake_minikube import main  # noqa: E402\n"
        "sys.exit(main())\n"
    ).encode()
    release_dir = os.path.join(root, pinned("mesh_minikube_version"))
    os.makedirs(release_dir, exist_ok=True)
    for platform in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"):
        with open(os.path.join(release_dir, f"minikube-{platform}"), "wb") as handle:
            handle.write(binary)
        with open(os.path.join(release_dir, f"minikube-{platform}.sha256"), "w", encoding="utf-8") as handle:
            handle.write(hashlib.sha256(binary).hexdigest() + "\n")
    return release_dir


class SlowReleaseServer(ReleaseServer):
    """The fake release, with archives sent in small slow chunks so a run can be interrupted mid-download."""

    def __init__(self, root, chunk=256, pause=0.25):
        super().__init__(root)
        # ReleaseServer's handler is functools.partial(<handler class>, directory=root).
        served = self.httpd.RequestHandlerClass

        class Slow(served.func):
            def copyfile(self, source, outputfile):
                if not self.path.endswith(".tar.gz"):
                    return super().copyfile(source, outputfile)
                try:
                    for block in iter(lambda: source.read(chunk), b""):
                        outputfile.write(block)
                        outputfile.flush()
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the interrupted client hung up, which is what the test does

        self.httpd.RequestHandlerClass = functools.partial(Slow, *served.args, **served.keywords)


def harness_bin_without(directory, missing):
    """A PATH with the fake CLIs except ``missing``, then the venv, then the system (which has none of them)."""
    os.makedirs(directory, exist_ok=True)
    for cli in ("minikube", "istioctl", "docker"):
        if cli != missing:
            os.symlink(os.path.join(lifecycle.REPO, "tests", "harness", "fake_cli.py"), os.path.join(directory, cli))
    return os.pathsep.join([str(directory), fixtures.VENV_BIN, "/usr/local/bin", "/usr/bin", "/bin"])


def wait_for(process, predicate, what, timeout=120):
    """Poll ``predicate`` until it holds while the spawned playbook still runs; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.02)


def assert_nothing_duplicated(demo):
    """Each Deployment of the demo runs exactly its replicas from one ReplicaSet, no pod is extra, and there is
    one Istio install record."""
    client = demo.client
    problems = []
    for namespace in DEMO_NAMESPACES:
        deployments = client.list(f"/apis/apps/v1/namespaces/{namespace}/deployments")
        replicasets = client.list(f"/apis/apps/v1/namespaces/{namespace}/replicasets")
        pods = client.list(f"/api/v1/namespaces/{namespace}/pods")
        assert deployments, f"no Deployments in {namespace}"
        expected = 0
        for deployment in deployments:
            uid, name, replicas = deployment["metadata"]["uid"], deployment["metadata"]["name"], deployment["spec"]["replicas"]
            expected += replicas
            active = [rs for rs in replicasets if _owner(rs) == uid and rs["spec"].get("replicas", 0) > 0]
            owned = [p for p in pods if _owner(p) in {rs["metadata"]["uid"] for rs in active}]
            if len(active) != 1 or len(owned) != replicas:
                problems.append(f"{namespace}/{name}: {len(active)} active ReplicaSets, {len(owned)} pods for {replicas} replicas")
        if len(pods) != expected:
            problems.append(f"{namespace}: {len(pods)} pods for {expected} replicas in all: {sorted(p['metadata']['name'] for p in pods)}")
    records = client.list("/api/v1/namespaces/istio-system/configmaps", label_selector=INSTALL_RECORD_SELECTOR)
    if len(records) != 1:
        problems.append(f"{len(records)} Istio install records: {[r['metadata']['name'] for r in records]}")
    assert not problems, "\n".join(problems)


def _owner(obj):
    refs = [ref for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("controller")]
    return refs[0]["uid"] if refs else None


def assert_failed_before_any_change(demo, run, before, words):
    """The run failed, changed nothing (recap, emulator objects, fake CLI state) and said ``words``."""
    assert run.returncode != 0 and run.failures >= 1, run.explain()
    assert run.changed == 0, run.explain()
    after = demo.snapshot()
    assert before.diff(after) == [], "the failing run changed the cluster or the CLIs' state:\n" + "\n".join(before.diff(after))
    message = run.failure_message()
    for word in words:
        assert word in message, f"{word!r} not in the failure message:\n{message}"
