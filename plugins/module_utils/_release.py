# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinned release downloads of minikube and Istio, verified against their published SHA-256.

Pure helpers (platform names, release URLs, checksum files) plus the two steps that touch the
outside world: :func:`download_verified` fetches through ``ansible.module_utils.urls.fetch_url``
(so proxies and TLS verification behave like ``get_url``) and :func:`safe_extract` unpacks an
archive without letting any member land outside its directory.

Release naming, as published by the projects:

* minikube: ``{base}/v{X.Y.Z}/minikube-{linux|darwin}-{amd64|arm64}``; the ``.sha256`` next to it
  holds the bare hex digest (the ``checksum`` target of minikube's Makefile).
* Istio: ``{base}/{X.Y.Z}/istio-{X.Y.Z}-{linux-amd64|linux-arm64|osx-amd64|osx-arm64}.tar.gz``
  (``osx-amd64`` exists since 1.19); the ``.sha256`` next to it holds ``<hex> <file name>``.
  The archive's top directory is ``istio-{X.Y.Z}`` with ``bin/istioctl``, ``samples/`` and
  ``manifests/``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import hashlib
import os
import posixpath
import re
import shutil
import tarfile
import tempfile

from ansible.module_utils.urls import fetch_url

PROJECTS = ("minikube", "istio")

DEFAULT_BASE_URLS = {
    "minikube": "https://github.com/kubernetes/minikube/releases/download",
    "istio": "https://github.com/istio/istio/releases/download",
}

# platform.system() and platform.machine() spellings -> the names the release assets use.
_OS_NAMES = {"linux": "linux", "darwin": "darwin"}
_ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
# Istio calls macOS "osx" in its asset names.
_ISTIO_OS = {"linux": "linux", "darwin": "osx"}

# A release version: digits, optional pre-release/build suffix. It becomes a cache directory
# name and part of a URL, so nothing that could climb out of either is accepted.
_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z][0-9A-Za-z.-]*)?$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")

VERIFIED_SUFFIX = ".sha256-verified"
_CHUNK = 1024 * 1024


class ReleaseError(Exception):
    """Something about a release download failed; the message says what and the next step."""


class ChecksumMismatch(ReleaseError):
    """The downloaded bytes do not hash to the published SHA-256."""

    def __init__(self, url, expected, actual):
        super(ChecksumMismatch, self).__init__(
            "SHA-256 mismatch for %s: the published checksum is %s but the downloaded file hashes to %s. "
            "The file was discarded. Retry the download; if it fails again, the mirror (base_url) serves "
            "a different file than its checksum describes." % (url, expected, actual)
        )
        self.url = url
        self.expected = expected
        self.actual = actual


def normalize_os(system):
    """``platform.system()`` (``Linux``, ``Darwin``) -> ``linux`` or ``darwin``."""
    name = _OS_NAMES.get((system or "").lower())
    if name is None:
        raise ReleaseError(
            "Unsupported operating system %r: minikube and Istio releases are installed for linux and darwin only." % system
        )
    return name


def normalize_arch(machine):
    """``platform.machine()`` (``x86_64``, ``aarch64``, ``arm64``) -> ``amd64`` or ``arm64``."""
    name = _ARCH_NAMES.get((machine or "").lower())
    if name is None:
        raise ReleaseError(
            "Unsupported CPU architecture %r: minikube and Istio publish amd64 (x86_64) and arm64 (aarch64) "
            "builds. Set the arch option to install one of those explicitly." % machine
        )
    return name


def release_tag(name, version):
    """The release tag of ``version``: minikube tags carry a ``v`` (``v1.39.0``), Istio's do not."""
    if name not in PROJECTS:
        raise ReleaseError("Unknown project %r; expected one of %s." % (name, ", ".join(PROJECTS)))
    if not _VERSION_RE.match(version or ""):
        raise ReleaseError("Invalid version %r: expected a release version such as 1.31.1 or v1.39.0." % version)
    bare = version[1:] if version.startswith("v") else version
    return "v" + bare if name == "minikube" else bare


def asset_name(name, tag, os_name, arch):
    """The file name of the release asset for one platform."""
    if name == "minikube":
        return "minikube-%s-%s" % (os_name, arch)
    return "istio-%s-%s-%s.tar.gz" % (tag, _ISTIO_OS[os_name], arch)


def asset_url(base_url, tag, asset):
    """``{base_url}/{tag}/{asset}``, the layout of GitHub release downloads and their mirrors."""
    return "%s/%s/%s" % (base_url.rstrip("/"), tag, asset)


def parse_checksum(text, filename=None):
    """The SHA-256 hex digest in a checksum file's ``text``.

    Accepts a bare digest (minikube) and ``sha256sum`` lines ``<hex>  <name>``, ``<hex> *<name>`` or
    ``<hex> <name>`` (Istio). With several lines, the one naming ``filename`` is used.
    """
    entries = []
    for line in (text or "").splitlines():
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        entry_name = words[1].strip().lstrip("*") if len(words) > 1 else None
        entries.append((words[0], entry_name))
    if len(entries) > 1:
        entries = [entry for entry in entries if entry[1] is not None and posixpath.basename(entry[1]) == filename]
    if len(entries) != 1 or not _HEX_RE.match(entries[0][0]):
        raise ReleaseError(
            "Could not read a SHA-256 digest%s from the checksum file; it says: %r"
            % (" for %s" % filename if filename else "", (text or "")[:200])
        )
    digest, entry_name = entries[0]
    if filename and entry_name is not None and posixpath.basename(entry_name) != filename:
        raise ReleaseError("The checksum file describes %s, not %s." % (entry_name, filename))
    return digest.lower()


def sha256_file(path):
    """The SHA-256 hex digest of a local file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def read_verified(artifact):
    """The digest recorded when ``artifact`` was verified, or ``None`` when there is no record."""
    try:
        with open(artifact + VERIFIED_SUFFIX) as handle:
            return parse_checksum(handle.read(), os.path.basename(artifact))
    except (IOError, OSError, ReleaseError):
        return None


def write_verified(artifact, digest):
    """Record ``digest`` next to ``artifact`` (``sha256sum`` format), atomically."""
    _write_atomic(artifact + VERIFIED_SUFFIX, "%s  %s\n" % (digest, os.path.basename(artifact)))


def cached_digest(artifact):
    """The recorded digest when ``artifact`` exists and still hashes to it, else ``None``."""
    recorded = read_verified(artifact)
    if recorded is None or not os.path.isfile(artifact):
        return None
    return recorded if sha256_file(artifact) == recorded else None


def _open(module, url, timeout):
    response, info = fetch_url(module, url, timeout=timeout)
    if info.get("status") != 200 or response is None:
        raise ReleaseError(
            "Downloading %s failed: HTTP %s %s. Check that this version is published for this platform, "
            "the network or proxy settings, or point base_url to a mirror." % (url, info.get("status"), info.get("msg", ""))
        )
    return response


def fetch_text(module, url, timeout):
    """The body of a small text file (a checksum file)."""
    response = _open(module, url, timeout)
    try:
        return response.read(64 * 1024).decode("utf-8", "replace")
    finally:
        response.close()


def download_verified(module, url, expected, dest_dir, timeout, suffix=".part"):
    """Download ``url`` into a temporary file in ``dest_dir`` and check it hashes to ``expected``.

    Returns the temporary file's path; the caller renames it into place. On any failure, including
    :class:`ChecksumMismatch`, the temporary file is removed before the error is raised.
    """
    response = _open(module, url, timeout)
    fd, temp_path = tempfile.mkstemp(prefix=".download-", suffix=suffix, dir=dest_dir)
    digest = hashlib.sha256()
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(block)
                    handle.write(block)
        finally:
            response.close()
        if digest.hexdigest() != expected:
            raise ChecksumMismatch(url, expected, digest.hexdigest())
    except BaseException:
        remove_quietly(temp_path)
        raise
    return temp_path


def _inside(root, path):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _member_problem(member, root):
    """Why ``member`` must not be extracted into ``root``, or ``None`` when it is safe."""
    name = member.name
    if name.startswith("/") or os.path.isabs(name):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "climbs out with '..'"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "is a device, FIFO or other special file"
    # realpath follows the links extracted so far, so a member cannot be written through one.
    target = os.path.realpath(os.path.join(root, name))
    if not _inside(root, target):
        return "resolves outside the extraction directory"
    if member.issym():
        if member.linkname.startswith("/"):
            return "is a symbolic link to an absolute path"
        if not _inside(root, os.path.realpath(os.path.join(os.path.dirname(target), member.linkname))):
            return "is a symbolic link that points outside the extraction directory"
    if member.islnk():
        if member.linkname.startswith("/") or ".." in member.linkname.split("/"):
            return "is a hard link that points outside the extraction directory"
        if not _inside(root, os.path.realpath(os.path.join(root, member.linkname))):
            return "is a hard link that points outside the extraction directory"
    return None


def safe_extract(archive, dest, label=None):
    """Extract the gzip tarball ``archive`` into the existing directory ``dest``.

    Each member is checked just before it is written (absolute paths, ``..``, special files and
    links that lead outside ``dest`` are refused), so no file is ever written outside ``dest``.
    ``label`` names the archive in errors (default: its file name).
    """
    label = label or os.path.basename(archive)
    root = os.path.realpath(dest)
    # Python's own 'data' filter (3.8.17+/3.11.4+) adds a second line of defence where it exists.
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                problem = _member_problem(member, root)
                if problem:
                    raise ReleaseError(
                        "Refusing to extract %s: member %r %s. A genuine release archive never does this; "
                        "check where base_url points." % (label, member.name, problem)
                    )
                tar.extract(member, root, **extra)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ReleaseError("Could not extract %s: %s" % (label, exc))


# What an install writes before it renames into place: downloads, extraction trees, record files.
TEMPORARY_PREFIXES = (".download-", ".extract-", ".tmp-")


@contextlib.contextmanager
def cache_lock(directory):
    """Lock ``directory`` itself for one install, so two runs never share or remove each other's temporaries.

    The lock is on the directory's own descriptor: no lock file is left in the cache.
    """
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(directory):
    """Remove what an earlier, interrupted install left in ``directory``; call it holding :func:`cache_lock`.

    Returns the names removed.
    """
    removed = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(TEMPORARY_PREFIXES):
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                remove_quietly(path)
            removed.append(name)
    return removed


def remove_quietly(path):
    """Remove a file if it exists; cleanup must not hide the error being reported."""
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_atomic(path, text):
    fd, temp_path = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, path)
    except BaseException:
        remove_quietly(temp_path)
        raise
