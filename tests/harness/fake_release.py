"""A fake Istio release, built and served on 127.0.0.1, so `release_artifact` runs its real download path offline.

The archive has the layout of Istio's release (``istio-<ver>/bin/istioctl``, ``samples/``, ``manifests/``) and
is published as Istio publishes it: ``<base>/<ver>/istio-<ver>-<os>-<arch>.tar.gz`` with a ``.sha256`` file
holding ``<hex>  <file name>`` next to it.

* ``bin/istioctl`` runs the harness's fake istioctl (``tests/harness/fake_istioctl.py``). It is extracted
  into a cache far from this checkout, so it names the checkout's absolute path instead of locating it
  relative to its own file as ``tests/harness/bin/istioctl`` does.
* ``samples/bookinfo`` is a small stand-in written here, not Istio's text: the same object names and labels
  as upstream (productpage-v1, details-v1, ratings-v1, reviews-v1/v2/v3, their Services and ServiceAccounts),
  which is what the roles and the emulator rely on.
* ``samples/addons`` holds the stand-ins of ``tests/fixtures/telemetry/addons`` (prometheus, grafana, jaeger,
  kiali: upstream's object names, labels and the prometheus ConfigMap's keys), so the telemetry role reads its
  addons from the cached release as it does on a real run.

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

import yaml

from tests.harness import service
from tests.harness.loopback import BackgroundServer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_VERSION = "1.31.1"
# Istio names macOS "osx" in its assets.
PLATFORMS = ("linux-amd64", "linux-arm64", "osx-amd64", "osx-arm64")
STATE_NAME = "release"

# service -> versions of its Deployments, in the order Bookinfo's manifest declares them.
BOOKINFO = {"details": ["v1"], "ratings": ["v1"], "reviews": ["v1", "v2", "v3"], "productpage": ["v1"]}
BOOKINFO_IMAGE_TAG = "1.20.3"
PORT = 9080
ADDONS_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "telemetry", "addons")


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


def bookinfo_objects():
    """Services, ServiceAccounts and Deployments with upstream Bookinfo's names and labels."""
    objects = []
    for service, versions in BOOKINFO.items():
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, "labels": {"app": service, "service": service}},
                "spec": {"ports": [{"name": "http", "port": PORT}], "selector": {"app": service}},
            }
        )
        account = "bookinfo-" + service
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "labels": {"account": service}}})
        for version in versions:
            labels = {"app": service, "version": version}
            objects.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "%s-%s" % (service, version), "labels": dict(labels)},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": dict(labels)},
                        "template": {
                            "metadata": {"labels": dict(labels)},
                            "spec": {
                                "serviceAccountName": account,
                                "containers": [
                                    {
                                        "name": service,
                                        "image": "docker.io/istio/examples-bookinfo-%s-%s:%s" % (service, version, BOOKINFO_IMAGE_TAG),
                                        "ports": [{"containerPort": PORT}],
                                    }
                                ],
                            },
                        },
                    },
                }
            )
    return objects


def networking_objects():
    """samples/bookinfo/networking: the gateway pair and destination-rule-all, as networking.istio.io/v1."""
    gateway = [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "bookinfo-gateway"},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "bookinfo"},
            "spec": {
                "hosts": ["*"],
                "gateways": ["bookinfo-gateway"],
                "http": [
                    {
                        "match": [{"uri": {"exact": "/productpage"}}, {"uri": {"prefix": "/static"}}, {"uri": {"exact": "/login"}}],
                        "route": [{"destination": {"host": "productpage", "port": {"number": PORT}}}],
                    }
                ],
            },
        },
    ]
    rules = [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": service},
            "spec": {"host": service, "subsets": [{"name": v, "labels": {"version": v}} for v in versions]},
        }
        for service, versions in BOOKINFO.items()
    ]
    return {"bookinfo-gateway.yaml": gateway, "destination-rule-all.yaml": rules}


def addon_files():
    """``{file name: bytes}`` of the addon stand-ins, in a stable order so the archive's digest is too."""
    names = sorted(name for name in os.listdir(ADDONS_DIR) if name.endswith(".yaml"))
    if not names:
        raise RuntimeError("no addon stand-ins in %s; the fake release needs them for samples/addons" % ADDONS_DIR)
    contents = {}
    for name in names:
        with open(os.path.join(ADDONS_DIR, name), "rb") as handle:
            contents[name] = handle.read()
    return contents


def _dump_all(objects):
    return yaml.safe_dump_all(objects, sort_keys=False).encode()


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
    buf = io.BytesIO()
    # gzip's header carries a time too: zero it so a rebuild publishes the same digest.
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for directory in ("", "/bin", "/samples", "/samples/addons", "/samples/bookinfo", "/samples/bookinfo/platform",
                          "/samples/bookinfo/platform/kube", "/samples/bookinfo/networking", "/manifests", "/manifests/profiles"):
            _add(tar, top + directory)
        _add(tar, top + "/bin/istioctl", istioctl_wrapper().encode(), mode=0o755)
        _add(tar, top + "/samples/bookinfo/platform/kube/bookinfo.yaml", _dump_all(bookinfo_objects()))
        for name, objects in networking_objects().items():
            _add(tar, top + "/samples/bookinfo/networking/" + name, _dump_all(objects))
        for name, data in addon_files().items():
            _add(tar, top + "/samples/addons/" + name, data)
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
