"""Where Istio's real CRDs (``crd-all.gen.yaml``) are found, for the fake ``istioctl install`` and the tests.

Looked for, in this order: ``$MESH_ISTIO_RELEASE_DIR`` (an unpacked Istio release, or any folder with a release's
``manifests/`` layout), the release the running ``istioctl`` was unpacked from (``<release>/bin/istioctl``), and
``../shared/istio-1.31`` next to the repository. Test-only code.
"""

from __future__ import annotations

import os

RELEASE_DIR_VARIABLE = "MESH_ISTIO_RELEASE_DIR"
CRD_FILE = os.path.join("manifests", "charts", "base", "files", "crd-all.gen.yaml")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "istio-1.31")


def release_places(executable=None):
    """The folders looked at for Istio's text, in order (see the module's docstring)."""
    places = []
    if os.environ.get(RELEASE_DIR_VARIABLE):
        places.append(os.environ[RELEASE_DIR_VARIABLE])
    if executable:
        places.append(os.path.dirname(os.path.dirname(os.path.abspath(executable))))
    places.append(SHARED)
    return places


def candidates(executable=None, relative=CRD_FILE):
    return [os.path.join(place, relative) for place in release_places(executable)]


def release_path(relative, what, executable=None, kind="file"):
    """``relative`` (a file, or a folder when ``kind`` is "dir") in the first place that has it.

    FileNotFoundError names ``what`` (a plural noun phrase) and the places looked at.
    """
    exists = os.path.isdir if kind == "dir" else os.path.isfile
    looked = candidates(executable, relative)
    for path in looked:
        if exists(path):
            return path
    raise FileNotFoundError(f"{what} are in none of: " + ", ".join(looked)
                            + f"; set {RELEASE_DIR_VARIABLE} to an unpacked Istio release")


def crd_file(executable=None):
    """The path of the first ``crd-all.gen.yaml`` found; FileNotFoundError naming the places looked at."""
    return release_path(CRD_FILE, "Istio's CRDs (crd-all.gen.yaml)", executable)


def load(executable=None):
    """Istio's CustomResourceDefinition objects, as a release ships them."""
    # Imported here: the fake CLIs import this module without the venv's PyYAML when they do not need it.
    import yaml  # pylint: disable=import-outside-toplevel
    with open(crd_file(executable), encoding="utf-8") as handle:
        docs = yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 0.4 s instead of 5
        return [doc for doc in docs if doc and doc.get("kind") == "CustomResourceDefinition"]
