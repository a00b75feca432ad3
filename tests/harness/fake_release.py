"""A fake Istio release, built and served on 127.0.0.1, so `release_artifact` runs its real download path offline.

The archive has the layout of Istio's release (``istio-<ver>/bin/istioctl``, ``samples/``, ``manifests/``) and
is published as Istio publishes it: ``<base>/<ver>/istio-<ver>-<os>-<arch>.tar.gz`` with a ``.sha256`` file
holding ``<hex>  <file name>`` next to it.

* ``bin/istioctl`` runs the harness's fake istioctl (``tests/harness/fake_istioctl.py``). It is extracted
  into a cache far from this checkout, so it names the checkout's absolute path instead of locating it
  relative to its own file as ``tests/harness/bin/istioctl`` does.
* ``samples/`` carries Istio's real ``bookinfo``, ``addons``, ``httpbin``, ``curl`` and ``sleep`` folders, byte
  for byte, read at build time from ``$MESH_ISTIO_RELEASE_DIR`` (an unpacked release) or ``../shared/istio-1.31``
  (the lookup of ``fake_istioctl_crds``); nothing of Istio's is copied into this checkout. Only ``bin/istioctl``
  is fake.

Command line (run from the checkout with the venv's python)::

    python -m tests.harness.fake_release up [--dir DIR] [--version 1.31.1]   # build, serve in the background
    python -m tests.harness.fake_release down [--dir DIR]                    # stop the server
    python -m tests.harness.fake_release serve --root ROOT [--port-file F]   # foreground (used by ``up``)

``up`` writes ``DIR/release.json`` = ``{"url": <base_url>, "pid": ..., "root": ...}``; DIR defaults to
``$MESH_HARNESS_DIR`` or ``.harness``. From pytest use :func:`build_release` and :class:`ReleaseServer`.
"""

import argparse
import functools
import gzip
import hashlib
import http.server
import io
import os
import sys
import tarfile


from tests.harness import fake_istioctl_crds, service
from tests.harness.loopback import BackgroundServer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_VERSION = "1.31.1"
# Istio names macOS "osx" in its assets.
PLATFORMS = ("linux-amd64", "linux-arm64", "osx-amd64", "osx-arm64")
STATE_NAME = "release"

# The folders of a release's samples/ the archive carries, copied byte for byte from Istio's text (never from this
# checkout): bookinfo (platform/kube, networking, gateway-api), the four addons, httpbin (and its fortio client),
# curl and sleep.
SAMPLES = ("bookinfo", "addons", "httpbin", "curl", "sleep")


def istioctl_wrapper():
    """The ``bin/istioctl`` of the archive: the harness's fake istioctl, found by absolute path."""
    return (
        "#!/usr/bin/env python3\n"
        '"""istioctl of the fake Istio release: runs tests/harness/fake_istioctl.py of %s."""\n'
        "import sys\n\n"
        "sys.path.insert(0, %r)\n\n"
        "from tests.harness.fake_istioctl import main  # noqa: E402\n\n"
        "sys.exit(main())\n" % (REPO_ROOT, REPO_ROOT)
    )


def samples_dir():
    """The ``samples/`` folder of Istio's text: ``$MESH_ISTIO_RELEASE_DIR``'s, else ``../shared/istio-1.31``'s.

    Found by the lookup the fake istioctl uses for Istio's CRDs (``fake_istioctl_crds``).
    """
    return fake_istioctl_crds.release_path("samples", "Istio's samples (samples/)", kind="dir")


def sample_files(root=None):
    """``{path under samples/: bytes}`` of :data:`SAMPLES`, sorted so the archive's digest is stable."""
    root = root or samples_dir()
    contents = {}
    for sample in SAMPLES:
        top = os.path.join(root, sample)
        if not os.path.isdir(top):
            raise FileNotFoundError("%s has no samples/%s; point %s at an unpacked Istio 1.31 release"
                                    % (os.path.dirname(root), sample, fake_istioctl_crds.RELEASE_DIR_VARIABLE))
        for folder, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    contents[os.path.relpath(path, root).replace(os.sep, "/")] = handle.read()
    return dict(sorted(contents.items()))


def _add(tar, name, data=None, mode=0o644):
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def archive_bytes(version):
    """The release archive for ``version`` (the same for every platform: the fake istioctl is Python)."""
    top = "istio-%s" % version
    samples = sample_files()
    folders = {"", "/bin", "/samples", "/manifests", "/manifests/profiles"}
    for path in samples:
        parts = path.split("/")[:-1]
        folders.update("/samples/" + "/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    buf = io.BytesIO()
    # gzip's header carries a time too: zero it so a rebuild publishes the same digest.
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for directory in sorted(folders):
            _add(tar, top + directory)
        _add(tar, top + "/bin/istioctl", istioctl_wrapper().encode(), mode=0o755)
        for path, data in samples.items():
            _add(tar, top + "/samples/" + path, data)
        _add(tar, top + "/manifests/profiles/demo.yaml", b"apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {}\n")
    return buf.getvalue()


def build_release(root, version=DEFAULT_VERSION, platforms=PLATFORMS):
    """Write ``root/<version>/istio-<version>-<platform>.tar.gz`` and its ``.sha256`` for each platform."""
    data = archive_bytes(version)
    digest = hashlib.sha256(data).hexdigest()
    release_dir = os.path.join(root, version)
    os.makedirs(release_dir, exist_ok=True)
    for platform in platforms:
        asset = "istio-%s-%s.tar.gz" % (version, platform)
        with open(os.path.join(release_dir, asset), "wb") as handle:
            handle.write(data)
        with open(os.path.join(release_dir, asset + ".sha256"), "w") as handle:
            handle.write("%s  %s\n" % (digest, asset))
    return release_dir


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass


class ReleaseServer(BackgroundServer):
    """Serves ``root`` on 127.0.0.1 in a thread; ``base_url`` is what ``release_artifact`` takes."""

    def __init__(self, root, port=0):
        super().__init__(functools.partial(_QuietHandler, directory=root), port)
        self.base_url = self.url


def harness_dir(value=None):
    return os.path.abspath(value or os.environ.get("MESH_HARNESS_DIR") or os.path.join(REPO_ROOT, ".harness"))


def release_probe(version):
    """The path a served release of ``version`` answers once it is up (the first platform's checksum file)."""
    return "/%s/istio-%s-%s.tar.gz.sha256" % (version, version, PLATFORMS[0])


def up(directory, version=DEFAULT_VERSION):
    """Build the release of ``version`` under DIR/release and serve it in the background; return its state."""
    directory = os.path.abspath(directory)
    root = os.path.join(directory, "release")
    build_release(root, version)
    return service.start(directory, STATE_NAME, ["tests.harness.fake_release", "serve", "--root", root],
                         release_probe(version), extra={"root": root}, what="the fake Istio release server")


def down(directory):
    """Stop the release server of DIR; False when none was running."""
    return service.stop(os.path.abspath(directory), STATE_NAME)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness.fake_release", description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build the fake release and serve it in the background")
    p_up.add_argument("--dir")
    p_up.add_argument("--version", default=DEFAULT_VERSION)
    p_down = sub.add_parser("down", help="stop the server")
    p_down.add_argument("--dir")
    p_serve = sub.add_parser("serve", help="serve a release root in the foreground")
    p_serve.add_argument("--root", required=True)
    p_serve.add_argument("--port-file")
    args = parser.parse_args(argv)
    if args.command == "serve":
        server = ReleaseServer(args.root)
        return service.serve_until_terminated(server.httpd, args.port_file, server.base_url)
    directory = harness_dir(args.dir)
    os.makedirs(directory, exist_ok=True)
    if args.command == "down":
        down(directory)
        return 0
    print(up(directory, args.version)["url"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
