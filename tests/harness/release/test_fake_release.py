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


def test_archive_has_the_release_layout_and_bookinfo_names():
    with tarfile.open(fileobj=io.BytesIO(fake_release.archive_bytes("1.31.0"))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        bookinfo = yaml.safe_load_all(tar.extractfile("istio-1.31.0/samples/bookinfo/platform/kube/bookinfo.yaml"))
        objects = [(o["kind"], o["metadata"]["name"]) for o in bookinfo]
    assert members["istio-1.31.0/bin/istioctl"].mode & 0o111
    assert members["istio-1.31.0/samples/addons"].isdir()
    assert members["istio-1.31.0/manifests"].isdir()
    deployments = sorted(name for kind, name in objects if kind == "Deployment")
    assert deployments == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    assert sorted(name for kind, name in objects if kind == "Service") == ["details", "productpage", "ratings", "reviews"]
    assert sorted(name for kind, name in objects if kind == "ServiceAccount") == [
        "bookinfo-details", "bookinfo-productpage", "bookinfo-ratings", "bookinfo-reviews"]


def test_archive_ships_the_addon_stand_ins_in_samples_addons():
    with tarfile.open(fileobj=io.BytesIO(fake_release.archive_bytes("1.31.0"))) as tar:
        addons = {m.name.rsplit("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()
                  if m.name.startswith("istio-1.31.0/samples/addons/") and m.isfile()}
    assert sorted(addons) == ["grafana.yaml", "jaeger.yaml", "kiali.yaml", "prometheus.yaml"]
    for name, data in addons.items():
        assert data == open(os.path.join(fake_release.ADDONS_DIR, name), "rb").read()
    prometheus = list(yaml.safe_load_all(addons["prometheus.yaml"]))
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
