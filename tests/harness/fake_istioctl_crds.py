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


def candidates(executable=None):
    places = []
    if os.environ.get(RELEASE_DIR_VARIABLE):
        places.append(os.environ[RELEASE_DIR_VARIABLE])
    if executable:
        places.append(os.path.dirname(os.path.dirname(os.path.abspath(executable))))
    places.append(SHARED)
    return [os.path.join(place, CRD_FILE) for place in places]


def crd_file(executable=None):
    """The path of the first ``crd-all.gen.yaml`` found; FileNotFoundError naming the places looked at."""
    looked = candidates(executable)
    for path in looked:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError("Istio's CRDs (crd-all.gen.yaml) are in none of: " + ", ".join(looked)
                            + f"; set {RELEASE_DIR_VARIABLE} to an unpacked Istio release")


def load(executable=None):
    """Istio's CustomResourceDefinition objects, as a release ships them."""
    # Imported here: the fake CLIs import this module without the venv's PyYAML when they do not need it.
    import yaml  # pylint: disable=import-outside-toplevel
    with open(crd_file(executable), encoding="utf-8") as handle:
        docs = yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 0.4 s instead of 5
        return [doc for doc in docs if doc and doc.get("kind") == "CustomResourceDefinition"]
