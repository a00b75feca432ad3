"""The fake Istio release has the published layout, verifies with its own checksum file, and serves it."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request

import pytest
import yaml

from tests.harness import fake_release

REPO = fake_release.REPO_ROOT
SHARED_SAMPLES = os.path.join(os.path.dirname(REPO), "shared", "istio-1.31", "samples")


def test_archive_has_the_release_layout_and_bookinfo_names():
    with tarfile.open(fileobj=io.BytesIO(fake_release.archive_bytes("1.31.0"))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        bookinfo = yaml.safe_load_all(tar.extractfile("istio-1.31.0/samples/bookinfo/platform/kube/bookinfo.yaml"))
        objects = [(o["kind"], o["metadata"]["name"]) for o in bookinfo if o]
    assert members["istio-1.31.0/bin/istioctl"].mode & 0o111
    assert members["istio-1.31.0/samples/addons"].isdir()
    assert members["istio-1.31.0/manifests"].isdir()
    deployments = sorted(name for kind, name in objects if kind == "Deployment")
    assert deployments == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    assert sorted(name for kind, name in objects if kind == "Service") == ["details", "productpage", "ratings", "reviews"]
    assert sorted(name for kind, name in objects if kind == "ServiceAccount") == [
        "bookinfo-details", "bookinfo-productpage", "bookinfo-ratings", "bookinfo-reviews"]


def _archive_samples(version="1.31.0"):
    prefix = "istio-%s/samples/" % version
    with tarfile.open(fileobj=io.BytesIO(fake_release.archive_bytes(version))) as tar:
        return {m.name[len(prefix):]: tar.extractfile(m).read() for m in tar.getmembers()
                if m.name.startswith(prefix) and m.isfile()}


def _istio_samples(root):
    found = {}
    for sample in ("bookinfo", "addons", "httpbin", "curl", "sleep"):
        for folder, _dirs, files in os.walk(os.path.join(root, sample)):
            for name in files:
                path = os.path.join(folder, name)
                found[os.path.relpath(path, root)] = open(path, "rb").read()
    return found


def test_archive_samples_are_istio_s_files_byte_for_byte(monkeypatch):
    monkeypatch.delenv("MESH_ISTIO_RELEASE_DIR", raising=False)
    expected = _istio_samples(SHARED_SAMPLES)
    assert "bookinfo/platform/kube/bookinfo.yaml" in expected and "addons/kiali.yaml" in expected
    assert "httpbin/httpbin.yaml" in expected and "curl/curl.yaml" in expected
    assert _archive_samples() == expected


def test_archive_samples_come_from_the_release_dir_variable(tmp_path, monkeypatch):
    for sample in ("bookinfo", "addons", "httpbin", "curl", "sleep"):
        (tmp_path / "samples" / sample).mkdir(parents=True)
        (tmp_path / "samples" / sample / "own.yaml").write_bytes(b"# %s of another release\n" % sample.encode())
    monkeypatch.setenv("MESH_ISTIO_RELEASE_DIR", str(tmp_path))
    assert _archive_samples() == _istio_samples(str(tmp_path / "samples"))


def test_a_release_dir_without_a_sample_is_refused_with_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "samples" / "bookinfo").mkdir(parents=True)
    monkeypatch.setenv("MESH_ISTIO_RELEASE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as missing:
        fake_release.archive_bytes("1.31.0")
    assert str(missing.value) == "%s has no samples/addons; point MESH_ISTIO_RELEASE_DIR at an unpacked Istio 1.31 release" % tmp_path


def test_archive_addons_are_istio_s_real_ones():
    addons = _archive_samples()
    kinds = {(o["kind"], o["metadata"]["name"]) for name in ("grafana.yaml", "kiali.yaml", "jaeger.yaml", "prometheus.yaml")
             for o in yaml.safe_load_all(addons["addons/" + name]) if o}
    # Grafana's dashboards, Kiali's RBAC, Jaeger v2's configuration: what the stand-ins lacked.
    assert ("ConfigMap", "istio-grafana-dashboards") in kinds
    assert ("ClusterRole", "kiali") in kinds and ("ClusterRoleBinding", "kiali") in kinds
    assert ("ConfigMap", "jaeger") in kinds
    prometheus = list(yaml.safe_load_all(addons["addons/prometheus.yaml"]))
    config = next(o for o in prometheus if o and o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus")
    assert "/etc/config/recording_rules.yml" in yaml.safe_load(config["data"]["prometheus.yml"])["rule_files"]


def test_archive_is_the_same_on_every_build():
    assert fake_release.archive_bytes("1.31.0") == fake_release.archive_bytes("1.31.0")


def test_build_publishes_a_matching_checksum_per_platform(tmp_path):
    release_dir = fake_release.build_release(str(tmp_path), "1.31.0")
    for platform in fake_release.PLATFORMS:
        asset = os.path.join(release_dir, "istio-1.31.0-%s.tar.gz" % platform)
        digest, name = open(asset + ".sha256").read().split()
        assert name == os.path.basename(asset)
        assert digest == hashlib.sha256(open(asset, "rb").read()).hexdigest()


def test_istioctl_of_the_extracted_archive_runs_from_anywhere(tmp_path):
    with tarfile.open(fileobj=io.BytesIO(fake_release.archive_bytes("1.31.0"))) as tar:
        tar.extractall(tmp_path, filter="data")
    env = dict(os.environ, MESH_HARNESS_DIR=str(tmp_path), FAKE_ISTIOCTL_VERSION="1.31.0")
    result = subprocess.run([str(tmp_path / "istio-1.31.0/bin/istioctl"), "version", "--remote=false"],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "1.31.0" in result.stdout


def test_server_serves_the_assets_on_loopback(tmp_path):
    fake_release.build_release(str(tmp_path), "1.31.0", platforms=("linux-amd64",))
    with fake_release.ReleaseServer(str(tmp_path)) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.base_url + "/1.31.0/istio-1.31.0-linux-amd64.tar.gz.sha256") as answer:
            assert answer.read().decode().endswith("  istio-1.31.0-linux-amd64.tar.gz\n")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.base_url + "/1.30.0/istio-1.30.0-linux-amd64.tar.gz")
        assert missing.value.code == 404


def test_up_is_idempotent_and_down_leaves_no_process(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "tests.harness.fake_release", *args, "--dir", str(tmp_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=30, check=True).stdout.strip()

    url = cli("up")
    pid = json.load(open(tmp_path / "release.json"))["pid"]
    try:
        assert cli("up") == url
        version = fake_release.DEFAULT_VERSION
        with urllib.request.urlopen("%s/%s/istio-%s-linux-amd64.tar.gz" % (url, version, version)) as answer:
            assert answer.status == 200
    finally:
        cli("down")
    assert not (tmp_path / "release.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
