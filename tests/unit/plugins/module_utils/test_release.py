# -*- coding: utf-8 -*-
"""Unit tests of module_utils/_release.py: naming, checksum files, the verified record, safe extraction."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _release
from ansible_collections.istiolab.mesh.plugins.module_utils._release import ReleaseError

DIGEST = hashlib.sha256(b"release bytes").hexdigest()


@pytest.mark.parametrize(
    "machine, expected",
    [("x86_64", "amd64"), ("AMD64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")],
)
def test_normalize_arch_maps_machine_names(machine, expected):
    assert _release.normalize_arch(machine) == expected


@pytest.mark.parametrize("machine", ["riscv64", "armv7l", "i686", "", None])
def test_normalize_arch_refuses_other_machines(machine):
    with pytest.raises(ReleaseError, match="amd64 .* and arm64"):
        _release.normalize_arch(machine)


def test_normalize_os():
    assert _release.normalize_os("Linux") == "linux"
    assert _release.normalize_os("Darwin") == "darwin"
    with pytest.raises(ReleaseError, match="'Windows'"):
        _release.normalize_os("Windows")


@pytest.mark.parametrize(
    "name, version, tag",
    [
        ("minikube", "v1.39.0", "v1.39.0"),
        ("minikube", "1.39.0", "v1.39.0"),
        ("istio", "1.31.1", "1.31.1"),
        ("istio", "v1.31.1", "1.31.1"),
        ("istio", "1.31.0-rc.0", "1.31.0-rc.0"),
    ],
)
def test_release_tag_follows_each_projects_tags(name, version, tag):
    assert _release.release_tag(name, version) == tag


@pytest.mark.parametrize("version", ["latest", "1.31", "../1.31.1", "1.31.1/../../x", "1.31.1 ", ""])
def test_release_tag_refuses_what_is_not_a_version(version):
    with pytest.raises(ReleaseError, match="Invalid version"):
        _release.release_tag("istio", version)


@pytest.mark.parametrize(
    "name, os_name, arch, asset",
    [
        ("minikube", "linux", "amd64", "minikube-linux-amd64"),
        ("minikube", "linux", "arm64", "minikube-linux-arm64"),
        ("minikube", "darwin", "amd64", "minikube-darwin-amd64"),
        ("minikube", "darwin", "arm64", "minikube-darwin-arm64"),
        ("istio", "linux", "amd64", "istio-1.31.1-linux-amd64.tar.gz"),
        ("istio", "linux", "arm64", "istio-1.31.1-linux-arm64.tar.gz"),
        ("istio", "darwin", "amd64", "istio-1.31.1-osx-amd64.tar.gz"),
        ("istio", "darwin", "arm64", "istio-1.31.1-osx-arm64.tar.gz"),
    ],
)
def test_asset_name(name, os_name, arch, asset):
    tag = _release.release_tag(name, "1.31.1")
    assert _release.asset_name(name, tag, os_name, arch) == asset


def test_asset_url_joins_base_tag_and_asset():
    assert (
        _release.asset_url("https://mirror.example/dl/", "1.31.1", "istio-1.31.1-linux-amd64.tar.gz")
        == "https://mirror.example/dl/1.31.1/istio-1.31.1-linux-amd64.tar.gz"
    )


@pytest.mark.parametrize(
    "text",
    [
        DIGEST,
        DIGEST + "\n",
        DIGEST.upper() + "\n",
        "%s istio-1.31.1-linux-amd64.tar.gz\n" % DIGEST,
        "%s  istio-1.31.1-linux-amd64.tar.gz\n" % DIGEST,
        "%s *istio-1.31.1-linux-amd64.tar.gz\n" % DIGEST,
        "%s  out/istio-1.31.1-linux-amd64.tar.gz\n" % DIGEST,
        "%s  istio-1.31.1-osx-arm64.tar.gz\n%s  istio-1.31.1-linux-amd64.tar.gz\n" % ("0" * 64, DIGEST),
    ],
    ids=["bare", "bare-newline", "upper", "one-space", "sha256sum", "binary-mode", "with-dir", "sums-file"],
)
def test_parse_checksum_reads_both_published_formats(text):
    assert _release.parse_checksum(text, "istio-1.31.1-linux-amd64.tar.gz") == DIGEST


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "Could not read"),
        ("not-a-digest\n", "Could not read"),
        (DIGEST[:-1] + "\n", "Could not read"),
        ("%s  istio-1.31.1-osx-arm64.tar.gz\n" % DIGEST, "describes istio-1.31.1-osx-arm64.tar.gz"),
        ("%s  a.tar.gz\n%s  b.tar.gz\n" % (DIGEST, DIGEST), "Could not read"),
        ("<html>Not Found</html>", "Could not read"),
    ],
)
def test_parse_checksum_refuses_what_it_cannot_trust(text, match):
    with pytest.raises(ReleaseError, match=match):
        _release.parse_checksum(text, "istio-1.31.1-linux-amd64.tar.gz")


def test_sha256_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"release bytes")
    assert _release.sha256_file(str(path)) == DIGEST


def test_verified_record_round_trip_and_tamper_detection(tmp_path):
    artifact = tmp_path / "minikube"
    artifact.write_bytes(b"release bytes")
    assert _release.read_verified(str(artifact)) is None
    assert _release.cached_digest(str(artifact)) is None

    _release.write_verified(str(artifact), DIGEST)
    assert (tmp_path / "minikube.sha256-verified").read_text() == "%s  minikube\n" % DIGEST
    assert _release.cached_digest(str(artifact)) == DIGEST

    artifact.write_bytes(b"tampered")
    assert _release.read_verified(str(artifact)) == DIGEST
    assert _release.cached_digest(str(artifact)) is None

    artifact.unlink()
    assert _release.cached_digest(str(artifact)) is None


def _tarball(path, members):
    """Write a gzip tarball of ``members``: (name, kind, payload) with kind file, dir, symlink, hardlink or fifo."""
    with tarfile.open(str(path), "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = payload
                info.size = len(data)
                info.mode = 0o755
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def _files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), str(path)) for d, _dirs, fs in os.walk(str(path)) for f in fs)


def test_safe_extract_extracts_a_release_layout(tmp_path):
    archive = _tarball(
        tmp_path / "a.tar.gz",
        [
            ("istio-1.31.1", "dir", None),
            ("istio-1.31.1/bin/istioctl", "file", b"#!/bin/sh\n"),
            ("istio-1.31.1/samples/bookinfo/bookinfo.yaml", "file", b"kind: Service\n"),
            ("istio-1.31.1/manifests/profiles/demo.yaml", "file", b"spec: {}\n"),
            ("istio-1.31.1/samples/latest", "symlink", "bookinfo"),
        ],
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    _release.safe_extract(archive, str(dest))
    assert (dest / "istio-1.31.1/bin/istioctl").read_bytes() == b"#!/bin/sh\n"
    assert os.access(str(dest / "istio-1.31.1/bin/istioctl"), os.X_OK)
    assert (dest / "istio-1.31.1/samples/latest/bookinfo.yaml").read_bytes() == b"kind: Service\n"


@pytest.mark.parametrize(
    "members, reason",
    [
        ([("{outside}/escape", "file", b"x")], "absolute path"),
        ([("istio-1.31.1/../../escape", "file", b"x")], "climbs out"),
        ([("../escape", "file", b"x")], "climbs out"),
        ([("istio-1.31.1/etc", "symlink", "/etc")], "symbolic link to an absolute path"),
        ([("istio-1.31.1/up", "symlink", "../..")], "symbolic link that points outside"),
        # Each link alone stays inside lexically; following the first one, the second leaves.
        (
            [("x/y/root", "symlink", "../.."), ("out", "symlink", "x/y/root/..")],
            "symbolic link that points outside",
        ),
        ([("x", "symlink", "."), ("x/y", "symlink", ".."), ("x/y/escape", "file", b"x")], "points outside"),
        ([("istio-1.31.1/passwd", "hardlink", "/etc/passwd")], "hard link"),
        ([("istio-1.31.1/passwd", "hardlink", "../../etc/passwd")], "hard link"),
        ([("istio-1.31.1/pipe", "fifo", None)], "special file"),
    ],
    ids=["absolute", "dotdot-inside", "dotdot", "symlink-absolute", "symlink-up", "symlink-chain", "write-through", "hardlink-absolute", "hardlink-up", "fifo"],
)
def test_safe_extract_refuses_members_that_leave_the_directory(tmp_path, members, reason):
    # Every escape would land inside tmp_path (dest is three levels down), where the test can see it.
    members = [(name.format(outside=tmp_path), kind, payload) for name, kind, payload in members]
    archive = _tarball(tmp_path / "evil.tar.gz", members)
    dest = tmp_path / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    before = _files_under(tmp_path)
    with pytest.raises(ReleaseError, match="Refusing to extract evil.tar.gz: member .*%s" % reason):
        _release.safe_extract(archive, str(dest))
    assert _files_under(tmp_path) == before


def test_safe_extract_reports_a_corrupt_archive(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ReleaseError, match="Could not extract broken.tar.gz"):
        _release.safe_extract(str(archive), str(tmp_path))
