# -*- coding: utf-8 -*-
"""release_artifact against a local HTTP server that serves release assets built at test time.

The server binds 127.0.0.1 on a free port and counts requests per path, so "a cached run makes no
request" and "check mode makes no request" are measured, not assumed.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import stat
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.istiolab.mesh.plugins.modules import release_artifact
from tests.unit.cli_cases import ModuleExit, exit_json, fail_json

MINIKUBE = "v1.39.0"
ISTIO = "1.31.1"
FAKE_MINIKUBE = b"#!/bin/sh\necho 'minikube version: v1.39.0'\n"


class ReleaseServer:
    """Serves ``files`` ({url path: bytes}) and counts the requests made for each path."""

    def __init__(self):
        self.files = {}
        self.requests = collections.Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/releases/download" % self.httpd.server_address[1]
        # A short poll interval keeps shutdown() (once per test) from costing half a second.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.01), daemon=True)

    @property
    def total(self):
        return sum(self.requests.values())

    def publish(self, tag, asset, body, checksum=None):
        """Serve ``body`` as ``asset`` of release ``tag``, with ``checksum`` (default: the right one) as its .sha256."""
        path = "/releases/download/%s/%s" % (tag, asset)
        self.files[path] = body
        self.files[path + ".sha256"] = (checksum if checksum is not None else hashlib.sha256(body).hexdigest() + "\n").encode()
        return path


@pytest.fixture
def server():
    srv = ReleaseServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(5)


def istio_archive(version=ISTIO, extra=()):
    """A tiny Istio release archive: istio-X/bin/istioctl, samples/ and manifests/ (plus ``extra`` TarInfo members)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, mode in [
            ("istio-%s/bin/istioctl" % version, b"#!/bin/sh\necho 1.31.1\n", 0o755),
            ("istio-%s/samples/bookinfo/platform/kube/bookinfo.yaml" % version, b"kind: Service\n", 0o644),
            ("istio-%s/manifests/profiles/demo.yaml" % version, b"spec: {}\n", 0o644),
        ]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


def sha256sum_line(body, asset):
    """Istio's .sha256 format: ``<hex> <file name>``."""
    return "%s %s\n" % (hashlib.sha256(body).hexdigest(), asset)


def run(params, check_mode=False, diff=False):
    """Run the module's main() with ``params``; return its result dict."""
    args = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            release_artifact.main()
    return caught.value.result


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), str(path)) for d, _dirs, fs in os.walk(str(path)) for f in fs)


@pytest.fixture
def minikube_params(server, tmp_path):
    server.publish(MINIKUBE, "minikube-linux-amd64", FAKE_MINIKUBE)
    return dict(name="minikube", version=MINIKUBE, os="linux", arch="amd64", base_url=server.url, cache_dir=str(tmp_path / "cache"))


@pytest.fixture
def istio_params(server, tmp_path):
    body = istio_archive()
    asset = "istio-%s-linux-amd64.tar.gz" % ISTIO
    server.publish(ISTIO, asset, body, sha256sum_line(body, asset))
    return dict(name="istio", version=ISTIO, os="linux", arch="amd64", base_url=server.url, cache_dir=str(tmp_path / "cache"))


def test_minikube_good_checksum_installs_an_executable(server, minikube_params, tmp_path):
    result = run(dict(minikube_params, version="1.39.0"))
    leaf = tmp_path / "cache" / "minikube" / MINIKUBE / "linux-amd64"
    assert result["failed"] is False, result.get("msg")
    assert (result["changed"], result["cached"], result["version"]) == (True, False, MINIKUBE)
    assert result["path"] == str(leaf / "minikube")
    assert result["url"] == server.url + "/v1.39.0/minikube-linux-amd64"
    assert result["sha256"] == hashlib.sha256(FAKE_MINIKUBE).hexdigest()
    assert (leaf / "minikube").read_bytes() == FAKE_MINIKUBE
    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o755
    assert files_under(tmp_path / "cache") == ["minikube/v1.39.0/linux-amd64/minikube", "minikube/v1.39.0/linux-amd64/minikube.sha256-verified"]
    assert server.requests == {"/releases/download/v1.39.0/minikube-linux-amd64.sha256": 1, "/releases/download/v1.39.0/minikube-linux-amd64": 1}


def test_istio_good_checksum_extracts_istioctl_samples_and_manifests(server, istio_params, tmp_path):
    result = run(istio_params)
    release = tmp_path / "cache" / "istio" / ISTIO / "linux-amd64" / ("istio-%s" % ISTIO)
    assert result["failed"] is False, result.get("msg")
    assert (result["changed"], result["cached"], result["version"]) == (True, False, ISTIO)
    assert result["dir"] == str(release)
    assert result["path"] == result["istioctl"] == str(release / "bin" / "istioctl")
    assert result["samples_dir"] == str(release / "samples")
    assert result["manifests_dir"] == str(release / "manifests")
    assert os.access(result["istioctl"], os.X_OK)
    assert (release / "samples/bookinfo/platform/kube/bookinfo.yaml").is_file()
    assert (release / "manifests/profiles/demo.yaml").is_file()
    # Only the archive, its record and the release tree: no temporary file or staging directory.
    assert files_under(tmp_path / "cache" / "istio" / ISTIO / "linux-amd64") == sorted(
        [
            "istio-1.31.1-linux-amd64.tar.gz",
            "istio-1.31.1-linux-amd64.tar.gz.sha256-verified",
            "istio-1.31.1/bin/istioctl",
            "istio-1.31.1/manifests/profiles/demo.yaml",
            "istio-1.31.1/samples/bookinfo/platform/kube/bookinfo.yaml",
        ]
    )


@pytest.mark.parametrize("project", ["minikube_params", "istio_params"])
def test_cached_second_run_makes_no_request(server, project, request):
    params = request.getfixturevalue(project)
    first = run(params)
    requests_after_first = server.total
    second = run(params)
    assert first["changed"] is True and requests_after_first == 2
    assert (second["changed"], second["cached"]) == (False, True)
    assert second["path"] == first["path"] and second["sha256"] == first["sha256"]
    assert server.total == requests_after_first, "a cached run must not touch the network: %s" % server.requests


@pytest.mark.parametrize("project", ["minikube_params", "istio_params"])
def test_bad_checksum_fails_and_leaves_nothing_behind(server, project, request, tmp_path):
    params = request.getfixturevalue(project)
    wrong = "0" * 64
    for path in server.files:
        if path.endswith(".sha256"):
            server.files[path] = (wrong + "\n").encode()
    url = server.url + ("/v1.39.0/minikube-linux-amd64" if params["name"] == "minikube" else "/1.31.1/istio-1.31.1-linux-amd64.tar.gz")
    actual = hashlib.sha256(server.files[url.replace(server.url, "/releases/download")]).hexdigest()

    result = run(params)

    assert result["failed"] is True
    assert "SHA-256 mismatch for %s" % url in result["msg"]
    assert "published checksum is %s" % wrong in result["msg"]
    assert "hashes to %s" % actual in result["msg"]
    assert files_under(tmp_path / "cache") == []


def test_an_interrupted_install_leaves_nothing_for_the_next_one(server, istio_params, tmp_path):
    leaf = tmp_path / "cache" / "istio" / ISTIO / "linux-amd64"
    leaf.mkdir(parents=True)
    (leaf / ".download-killed.part").write_bytes(b"half an archive")
    (leaf / ".extract-killed").mkdir()
    (leaf / ".extract-killed" / "partial").write_text("x")
    (leaf / ".tmp-killed").write_text("x")

    result = run(istio_params)

    assert result["failed"] is False, result.get("msg")
    assert result["changed"] is True
    assert not [p for p in files_under(tmp_path / "cache") if "killed" in p]


def test_a_tampered_cache_is_downloaded_again(server, minikube_params):
    first = run(minikube_params)
    with open(first["path"], "ab") as handle:
        handle.write(b"tampered")
    with mock.patch.object(basic.AnsibleModule, "warn") as warn:
        second = run(minikube_params)
    assert (second["changed"], second["cached"]) == (True, False)
    assert open(second["path"], "rb").read() == FAKE_MINIKUBE
    assert server.total == 4
    assert "no longer matches" in warn.call_args[0][0]


def test_a_missing_release_tree_is_extracted_again_without_network(server, istio_params):
    first = run(istio_params)
    os.unlink(first["istioctl"])
    second = run(istio_params)
    assert (second["changed"], second["cached"]) == (True, True)
    assert os.access(second["istioctl"], os.X_OK)
    assert server.total == 2


@pytest.mark.parametrize(
    "name, os_name, arch, url_tail",
    [
        ("minikube", "darwin", "arm64", "/v1.39.0/minikube-darwin-arm64"),
        ("minikube", "darwin", "amd64", "/v1.39.0/minikube-darwin-amd64"),
        ("minikube", "linux", "arm64", "/v1.39.0/minikube-linux-arm64"),
        ("istio", "darwin", "arm64", "/1.31.1/istio-1.31.1-osx-arm64.tar.gz"),
        ("istio", "darwin", "amd64", "/1.31.1/istio-1.31.1-osx-amd64.tar.gz"),
        ("istio", "linux", "arm64", "/1.31.1/istio-1.31.1-linux-arm64.tar.gz"),
    ],
)
def test_platform_url_selection_in_check_mode(server, tmp_path, name, os_name, arch, url_tail):
    version = MINIKUBE if name == "minikube" else ISTIO
    params = dict(name=name, version=version, os=os_name, arch=arch, base_url=server.url, cache_dir=str(tmp_path / "cache"))
    result = run(params, check_mode=True)
    assert result["url"] == server.url + url_tail
    assert (result["changed"], result["cached"], result["sha256"]) == (True, False, None)
    assert server.total == 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "system, machine, name, url_tail",
    [
        ("Darwin", "arm64", "istio", "/1.31.1/istio-1.31.1-osx-arm64.tar.gz"),
        ("Linux", "aarch64", "istio", "/1.31.1/istio-1.31.1-linux-arm64.tar.gz"),
        ("Linux", "x86_64", "minikube", "/v1.39.0/minikube-linux-amd64"),
        ("Darwin", "arm64", "minikube", "/v1.39.0/minikube-darwin-arm64"),
    ],
)
def test_platform_is_detected_from_the_host(server, tmp_path, system, machine, name, url_tail):
    params = dict(name=name, version=MINIKUBE if name == "minikube" else ISTIO, base_url=server.url, cache_dir=str(tmp_path / "cache"))
    with mock.patch("platform.system", return_value=system), mock.patch("platform.machine", return_value=machine):
        result = run(params, check_mode=True)
    assert result["url"] == server.url + url_tail


def test_darwin_arm64_download_requests_the_osx_arm64_archive(server, tmp_path):
    body = istio_archive()
    asset = "istio-1.31.1-osx-arm64.tar.gz"
    server.publish(ISTIO, asset, body, sha256sum_line(body, asset))
    result = run(dict(name="istio", version=ISTIO, os="darwin", arch="arm64", base_url=server.url, cache_dir=str(tmp_path / "cache")))
    assert result["failed"] is False, result.get("msg")
    assert result["dir"] == str(tmp_path / "cache" / "istio" / ISTIO / "darwin-arm64" / "istio-1.31.1")
    assert server.requests == {"/releases/download/1.31.1/%s.sha256" % asset: 1, "/releases/download/1.31.1/%s" % asset: 1}


def test_unsupported_arch_fails_clearly_without_a_request(server, tmp_path):
    params = dict(name="minikube", version=MINIKUBE, os="linux", base_url=server.url, cache_dir=str(tmp_path / "cache"))
    with mock.patch("platform.machine", return_value="riscv64"):
        result = run(params)
    assert result["failed"] is True
    assert "Unsupported CPU architecture 'riscv64'" in result["msg"]
    assert "Set the arch option" in result["msg"]
    assert server.total == 0


@pytest.mark.parametrize(
    "member, reason",
    [
        (("../escape", tarfile.REGTYPE, ""), "climbs out"),
        (("istio-1.31.1/bin/evil", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link to an absolute path"),
        (("istio-1.31.1/up", tarfile.SYMTYPE, "../../../../.."), "points outside"),
    ],
)
def test_tar_path_traversal_is_rejected(server, tmp_path, member, reason):
    name, kind, linkname = member
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = 1 if kind == tarfile.REGTYPE else 0
    body = istio_archive(extra=[info])
    asset = "istio-1.31.1-linux-amd64.tar.gz"
    server.publish(ISTIO, asset, body, sha256sum_line(body, asset))
    params = dict(name="istio", version=ISTIO, os="linux", arch="amd64", base_url=server.url, cache_dir=str(tmp_path / "cache"))

    result = run(params)

    assert result["failed"] is True
    assert "Refusing to extract %s: member %r" % (asset, name) in result["msg"]
    assert reason in result["msg"]
    assert files_under(tmp_path) == []


def test_an_archive_without_istioctl_is_refused(server, tmp_path):
    body = istio_archive(version="1.30.0")
    asset = "istio-1.31.1-linux-amd64.tar.gz"
    server.publish(ISTIO, asset, body, sha256sum_line(body, asset))
    result = run(dict(name="istio", version=ISTIO, os="linux", arch="amd64", base_url=server.url, cache_dir=str(tmp_path / "cache")))
    assert result["failed"] is True
    assert "does not contain istio-1.31.1/bin/istioctl" in result["msg"]
    assert files_under(tmp_path) == []


def test_check_mode_on_a_cached_release_reports_no_change(server, istio_params):
    first = run(istio_params)
    result = run(istio_params, check_mode=True)
    assert (result["changed"], result["cached"], result["sha256"]) == (False, True, first["sha256"])
    assert server.total == 2


def test_missing_release_fails_with_the_url_and_status(server, tmp_path):
    params = dict(name="istio", version="1.31.9", os="linux", arch="amd64", base_url=server.url, cache_dir=str(tmp_path / "cache"))
    result = run(params)
    assert result["failed"] is True
    assert "Downloading %s/1.31.9/istio-1.31.9-linux-amd64.tar.gz.sha256 failed: HTTP 404" % server.url in result["msg"]
    assert files_under(tmp_path) == []


def test_an_unreadable_checksum_file_fails_naming_its_url(server, minikube_params, tmp_path):
    server.files["/releases/download/v1.39.0/minikube-linux-amd64.sha256"] = b"<html>Sign in to continue</html>"
    result = run(minikube_params)
    assert result["failed"] is True
    assert result["msg"].startswith("%s/v1.39.0/minikube-linux-amd64.sha256: Could not read a SHA-256 digest" % server.url)
    assert "/releases/download/v1.39.0/minikube-linux-amd64" not in server.requests
    assert files_under(tmp_path) == []


def test_default_base_url_is_the_projects_release_page(tmp_path):
    minikube = run(dict(name="minikube", version=MINIKUBE, os="linux", arch="amd64", cache_dir=str(tmp_path)), check_mode=True)
    istio = run(dict(name="istio", version=ISTIO, os="darwin", arch="arm64", cache_dir=str(tmp_path)), check_mode=True)
    assert minikube["url"] == "https://github.com/kubernetes/minikube/releases/download/v1.39.0/minikube-linux-amd64"
    assert istio["url"] == "https://github.com/istio/istio/releases/download/1.31.1/istio-1.31.1-osx-arm64.tar.gz"


def test_invalid_version_is_refused(tmp_path):
    result = run(dict(name="istio", version="../../etc", os="linux", arch="amd64", cache_dir=str(tmp_path)))
    assert result["failed"] is True
    assert "Invalid version '../../etc'" in result["msg"]


def test_diff_shows_the_digest_before_and_after(server, minikube_params):
    digest = hashlib.sha256(FAKE_MINIKUBE).hexdigest()
    first = run(minikube_params, diff=True)
    second = run(minikube_params, diff=True)
    assert first["diff"] == dict(before=dict(path=first["path"], sha256=None), after=dict(path=first["path"], sha256=digest))
    assert second["diff"] == dict(before=dict(path=first["path"], sha256=digest), after=dict(path=first["path"], sha256=digest))
