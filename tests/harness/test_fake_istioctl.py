"""The fake istioctl against the API emulator, and istio_install through ansible-playbook on top of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.harness.client import HarnessError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ISTIOCTL = os.path.join(REPO, "tests", "harness", "bin", "istioctl")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"


def istioctl(harness, *args, faults=None):
    path = os.path.join(harness.dir, "faults.json")
    if faults is not None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"istioctl": faults}, handle)
    try:
        env = dict(harness.env, LC_ALL="C")
        return subprocess.run([ISTIOCTL, *args], env=env, capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)
    finally:
        if faults is not None:
            os.remove(path)


def _exists(harness, path):
    try:
        return harness.client.get(path) is not None
    except Exception:
        return False


@pytest.fixture
def clean_mesh(harness):
    """Each test starts and ends without Istio (the emulator is shared by the session)."""
    istioctl(harness, "uninstall", "--purge", "-y")
    yield harness
    istioctl(harness, "uninstall", "--purge", "-y")


def test_version_without_control_plane_prints_only_the_client(clean_mesh):
    done = istioctl(clean_mesh, "version", "-o", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"clientVersion"}
    assert set(document["clientVersion"]) == {"version", "revision", "golang_version", "status", "tag"}
    assert "no running Istio pods" in done.stderr


def test_manifest_generate_is_deterministic_and_follows_the_values(clean_mesh):
    demo = istioctl(clean_mesh, "manifest", "generate", "--set", "profile=demo").stdout
    assert demo == istioctl(clean_mesh, "manifest", "generate", "--set", "profile=demo").stdout
    assert demo != istioctl(clean_mesh, "manifest", "generate", "--set", "profile=demo", "--set", "meshConfig.enableTracing=true").stdout
    assert "istio-egressgateway" in demo
    assert "istio-egressgateway" not in istioctl(clean_mesh, "manifest", "generate", "--set", "profile=default").stdout


def test_install_registers_crds_and_creates_the_control_plane(clean_mesh):
    harness = clean_mesh
    done = istioctl(harness, "install", "-y", "--set", "profile=demo", "--set", "meshConfig.enableTracing=true")
    assert done.returncode == 0, done.stderr
    assert "\u2714 Installation complete" in done.stdout

    for plural, group in (
        ("virtualservices", "networking.istio.io"),
        ("envoyfilters", "networking.istio.io"),
        ("telemetries", "telemetry.istio.io"),
        ("authorizationpolicies", "security.istio.io"),
        ("wasmplugins", "extensions.istio.io"),
    ):
        assert _exists(harness, CRD_PATH + "%s.%s" % (plural, group)), plural
    for name in ("istiod", "istio-ingressgateway", "istio-egressgateway"):
        assert _exists(harness, "/apis/apps/v1/namespaces/istio-system/deployments/" + name), name
    ingress = harness.client.get("/api/v1/namespaces/istio-system/services/istio-ingressgateway")
    assert ingress["spec"]["type"] == "LoadBalancer"
    assert [(p["name"], p["port"]) for p in ingress["spec"]["ports"]] == [("status-port", 15021), ("http2", 80), ("https", 443)]
    assert all(p.get("nodePort") for p in ingress["spec"]["ports"])
    mesh = harness.client.get("/api/v1/namespaces/istio-system/configmaps/istio")["data"]["mesh"]
    assert "enableTracing: true" in mesh and 'accessLogFile: "/dev/stdout"' in mesh

    virtual_service = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "probe", "namespace": "istio-system"},
        "spec": {"hosts": ["probe"], "http": [{"route": [{"destination": {"host": "probe"}}]}]},
    }
    harness.client.create(virtual_service)
    assert _exists(harness, "/apis/networking.istio.io/v1/namespaces/istio-system/virtualservices/probe")

    version = json.loads(istioctl(harness, "version", "-o", "json").stdout)
    client = version["clientVersion"]["version"]
    assert [(m["Component"], m["Revision"], m["Info"]["version"]) for m in version["meshVersion"]] == [("istiod", "default", client)]

    removed = istioctl(harness, "uninstall", "--purge", "-y")
    assert removed.returncode == 0, removed.stderr
    assert not _exists(harness, "/apis/apps/v1/namespaces/istio-system/deployments/istiod")
    assert not _exists(harness, CRD_PATH + "virtualservices.networking.istio.io")


def test_install_creates_istios_real_crds_so_their_schemas_judge_custom_resources(clean_mesh):
    harness = clean_mesh
    done = istioctl(harness, "install", "-y", "--set", "profile=minimal")
    assert done.returncode == 0, done.stderr
    with open(os.path.join(os.path.dirname(REPO), "shared", "istio-1.31", "manifests", "charts", "base", "files",
                           "crd-all.gen.yaml"), encoding="utf-8") as handle:
        shipped = [d for d in yaml.safe_load_all(handle) if d]
    for crd in shipped:
        stored = harness.client.get(CRD_PATH + crd["metadata"]["name"])
        assert stored["spec"]["versions"] == crd["spec"]["versions"], crd["metadata"]["name"]
        assert stored["metadata"]["labels"]["operator.istio.io/component"] == "Base"
    route = [{"destination": {"host": "probe"}, "weight": "fifty"}]
    with pytest.raises(HarnessError) as refused:
        harness.client.create({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                               "metadata": {"name": "probe", "namespace": "istio-system"},
                               "spec": {"hosts": ["probe"], "http": [{"route": route}]}})
    assert refused.value.status == 422
    assert refused.value.body["details"]["causes"][0]["field"] == "spec.http[0].route[0].weight"


def test_install_takes_the_crds_of_the_release_the_variable_points_at(clean_mesh, tmp_path):
    release = tmp_path / "istio-1.31.9"
    (release / "manifests/charts/base/files").mkdir(parents=True)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "probes.mesh.example.com"},
           "spec": {"group": "mesh.example.com", "scope": "Namespaced",
                    "names": {"kind": "Probe", "plural": "probes", "singular": "probe"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    (release / "manifests/charts/base/files/crd-all.gen.yaml").write_text(yaml.safe_dump(crd))
    env = dict(clean_mesh.env, LC_ALL="C", MESH_ISTIO_RELEASE_DIR=str(release))
    done = subprocess.run([ISTIOCTL, "install", "-y", "--set", "profile=minimal"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert _exists(clean_mesh, CRD_PATH + "probes.mesh.example.com")
    assert not _exists(clean_mesh, CRD_PATH + "virtualservices.networking.istio.io")


def test_without_any_release_the_error_names_the_places_and_the_variable(tmp_path, monkeypatch):
    from tests.harness import fake_istioctl_crds  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("MESH_ISTIO_RELEASE_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(fake_istioctl_crds, "SHARED", str(tmp_path / "shared"))
    with pytest.raises(FileNotFoundError) as missing:
        fake_istioctl_crds.crd_file(str(tmp_path / "istio-1.31.0" / "bin" / "istioctl"))
    assert str(missing.value) == (
        "Istio's CRDs (crd-all.gen.yaml) are in none of: "
        + ", ".join(str(tmp_path / place / "manifests/charts/base/files/crd-all.gen.yaml") for place in ("empty", "istio-1.31.0", "shared"))
        + "; set MESH_ISTIO_RELEASE_DIR to an unpacked Istio release")


def test_faults_reproduce_the_real_failures(clean_mesh):
    harness = clean_mesh
    down = istioctl(harness, "version", "-o", "json", faults={"unreachable": True})
    assert down.returncode == 1 and "connect: connection refused" in down.stderr

    timeout = istioctl(harness, "install", "-y", "--set", "profile=demo", faults={"install": "timeout"})
    assert timeout.returncode == 1
    assert "resources not ready after 5m0s" in timeout.stdout and "errors occurred during operation" in timeout.stderr

    finding = {"code": "IST0101", "level": "Error", "origin": "VirtualService bookinfo/bookinfo", "message": 'Referenced gateway not found: "bookinfo-gateway"'}
    analyzed = istioctl(harness, "analyze", "-o", "json", "--all-namespaces", faults={"analyze": [finding]})
    assert analyzed.returncode == 0
    [message] = json.loads(analyzed.stdout)
    assert message["code"] == "IST0101" and message["documentationUrl"].endswith("/ist0101/?ref=istioctl-analyze")

    clean = istioctl(harness, "analyze", "-o", "json", "--all-namespaces")
    assert json.loads(clean.stdout) == [] and "No validation issues found when analyzing all namespaces" in clean.stderr

    precheck = istioctl(harness, "x", "precheck", "-o", "json", faults={"precheck": [dict(finding, code="IST0141", origin="Cluster")]})
    assert precheck.returncode == 1 and json.loads(precheck.stdout)[0]["code"] == "IST0141"

    removed_command = istioctl(harness, "verify-install")
    assert removed_command.returncode == 1 and 'unknown command "verify-install"' in removed_command.stderr


def test_every_invocation_is_recorded(clean_mesh):
    calls_file = os.path.join(clean_mesh.dir, "cli-calls.jsonl")
    before = sum(1 for _line in open(calls_file, encoding="utf-8")) if os.path.exists(calls_file) else 0
    istioctl(clean_mesh, "version", "-o", "json")
    with open(calls_file, encoding="utf-8") as handle:
        calls = [json.loads(line) for line in handle]
    assert len(calls) == before + 1
    assert calls[-1] == {"cli": "istioctl", "args": ["version", "-o", "json"]}


PLAYBOOK = textwrap.dedent("""\
    - name: istio_install against the offline cluster
      hosts: localhost
      gather_facts: false
      vars:
        mesh_set: {"meshConfig.accessLogFile": /dev/stdout, "meshConfig.enableTracing": true}
      tasks:
        - name: Install Istio
          istiolab.mesh.istio_install: {profile: demo, set: "{{ mesh_set }}"}
          register: first
        - name: Install Istio again
          istiolab.mesh.istio_install: {profile: demo, set: "{{ mesh_set }}"}
          register: second
        - name: Change a value in check mode
          istiolab.mesh.istio_install: {profile: demo, set: {"meshConfig.enableTracing": false}}
          check_mode: true
          register: preview
        - name: Install Istio a third time
          istiolab.mesh.istio_install: {profile: demo, set: "{{ mesh_set }}"}
          register: third
        - name: Remove Istio
          istiolab.mesh.istio_install: {state: absent}
          register: removed
        - name: Remove Istio again
          istiolab.mesh.istio_install: {state: absent}
          register: removed_again
        - name: Check what each run reported
          ansible.builtin.assert:
            that:
              - first is changed and first.action == 'install'
              - first.control_plane_version == first.client_version
              - second is not changed and second.action == 'none'
              - second.digest == first.digest
              - preview is changed and preview.action == 'reconfigure'
              - third is not changed
              - removed is changed and removed.control_plane_version is none
              - removed_again is not changed
    """)


def test_istio_install_playbook_is_idempotent(clean_mesh, tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(clean_mesh.env, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(tmp_path / "hosts"), str(tmp_path / "play.yml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "changed=3 " in done.stdout, done.stdout[-2000:]
