#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: release_artifact
short_description: Install a pinned minikube or Istio release, verified against its published SHA-256
version_added: 0.1.0
description:
  - Downloads the minikube binary or the Istio release archive (which carries C(istioctl), C(samples/)
    and C(manifests/)) for one version from the project's release page, checks it against the
    SHA-256 published next to it, and caches it by version under O(cache_dir).
  - "The cache layout is C({cache_dir}/{name}/{version}/{os}-{arch}/). minikube is installed there as
    C(minikube) (mode 0755); the Istio archive is kept there and extracted to C(istio-{version}/)."
  - The verified digest is recorded next to the artifact (C(<file>.sha256-verified)). A later run
    re-hashes the local file against that record and makes no network request at all when it matches.
  - A download that does not match the published checksum fails, naming the URL and both digests, and
    leaves no partial or temporary file behind. Downloads go to a temporary file in the cache
    directory and are renamed into place only after verification.
  - The Istio archive is extracted member by member; absolute paths, C(..) components, special files
    and links that lead outside the cache directory make the module fail without writing them.
  - Requests go through Ansible's URL library, so proxies (E(https_proxy), E(no_proxy)) and TLS
    certificate verification behave as in M(ansible.builtin.get_url).
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  name:
    description:
      - The project to install.
    type: str
    required: true
    choices: [minikube, istio]
  version:
    description:
      - The release to install, for example V(v1.39.0) for minikube or V(1.31.1) for Istio.
      - A leading C(v) is added for minikube and removed for Istio, matching each project's tags.
    type: str
    required: true
  os:
    description:
      - The operating system of the build to install.
      - Detected from the managed host (C(platform.system())) when not set.
    type: str
    choices: [linux, darwin]
  arch:
    description:
      - The CPU architecture of the build to install.
      - Detected from the managed host when not set; C(x86_64) maps to V(amd64), C(aarch64) and
        C(arm64) to V(arm64). Any other machine type fails with a message saying so.
    type: str
    choices: [amd64, arm64]
  cache_dir:
    description:
      - The directory releases are cached in, by name, version and platform.
    type: path
    default: ~/.cache/istiolab-mesh
  base_url:
    description:
      - The base of the release download URLs; the module requests C({base_url}/{tag}/{asset}) and
        C({base_url}/{tag}/{asset}.sha256).
      - Defaults to C(https://github.com/kubernetes/minikube/releases/download) for minikube and
        C(https://github.com/istio/istio/releases/download) for Istio. Set it to use a mirror with the
        same layout.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the download server.
      - Only set this to V(false) for a mirror you trust on a network you control; the checksum is
        still verified, but it comes from the same server.
    type: bool
    default: true
  timeout:
    description:
      - Timeout in seconds of each HTTP request.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    details: Makes no request; reports the URL it would download and C(changed) when the release is not cached.
  diff_mode:
    support: full
    details: Before and after are the artifact path with its verified SHA-256 (null when not installed, and
      after is null in check mode until the file has been downloaded and verified).
  platform:
    support: full
    platforms: posix
    details: Installs the linux and darwin builds only.
requirements:
  - Network access to O(base_url) on the managed host (not needed when the release is cached).
notes:
  - The published checksum and the artifact come from the same release page, so the check protects
    against corrupt and truncated downloads and mismatched mirrors, not against a compromised release page.
seealso:
  - module: ansible.builtin.get_url
  - name: minikube releases
    description: The minikube release page.
    link: https://github.com/kubernetes/minikube/releases
  - name: Download the Istio release
    description: What the Istio release archive contains.
    link: https://istio.io/latest/docs/setup/additional-setup/download-istio-release/
"""

EXAMPLES = r"""
- name: Install the pinned minikube release
  istiolab.mesh.release_artifact:
    name: minikube
    version: v1.39.0
  register: minikube_release

- name: Install the pinned Istio release (istioctl, samples and manifests)
  istiolab.mesh.release_artifact:
    name: istio
    version: "1.31.1"
    cache_dir: "{{ mesh_cache_dir }}"
  register: istio_release

- name: Start minikube with the binary just installed
  istiolab.mesh.minikube_cluster:
    binary_path: "{{ minikube_release.path }}"
    state: present

- name: Install Istio with the istioctl of that release
  istiolab.mesh.istio_install:
    binary_path: "{{ istio_release.istioctl }}"
    state: present

- name: Install from a mirror with the same layout
  istiolab.mesh.release_artifact:
    name: istio
    version: "1.31.1"
    base_url: https://mirror.example.com/istio/releases/download
"""

RETURN = r"""
path:
  description: The installed binary (C(minikube), or C(istioctl) for Istio).
  returned: always
  type: str
  sample: /home/user/.cache/istiolab-mesh/istio/1.31.1/linux-amd64/istio-1.31.1/bin/istioctl
dir:
  description: The release directory; for Istio the extracted C(istio-{version}) directory.
  returned: always
  type: str
  sample: /home/user/.cache/istiolab-mesh/istio/1.31.1/linux-amd64/istio-1.31.1
istioctl:
  description: The C(istioctl) binary of the Istio release.
  returned: when O(name=istio)
  type: str
samples_dir:
  description: The C(samples/) directory of the Istio release (Bookinfo, addons).
  returned: when O(name=istio)
  type: str
manifests_dir:
  description: The C(manifests/) directory of the Istio release (charts, profiles).
  returned: when O(name=istio)
  type: str
version:
  description: The release tag installed.
  returned: always
  type: str
  sample: "1.31.1"
url:
  description: The URL of the release asset.
  returned: always
  type: str
  sample: https://github.com/istio/istio/releases/download/1.31.1/istio-1.31.1-linux-amd64.tar.gz
sha256:
  description: The verified SHA-256 of the asset; null in check mode when it is not cached yet.
  returned: always
  type: str
cached:
  description: The artifact was already in the cache and intact, so nothing was downloaded.
  returned: always
  type: bool
"""

import os
import platform
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.istiolab.mesh.plugins.module_utils._release import (
    DEFAULT_BASE_URLS,
    PROJECTS,
    ReleaseError,
    asset_name,
    asset_url,
    cache_lock,
    cached_digest,
    download_verified,
    fetch_text,
    normalize_arch,
    normalize_os,
    parse_checksum,
    read_verified,
    release_tag,
    remove_quietly,
    remove_stale_temporaries,
    safe_extract,
    write_verified,
)


class ReleaseArtifact:
    """One release of one project for one platform, and its place in the cache."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.name = params["name"]
        self.tag = release_tag(self.name, params["version"])
        self.os = params["os"] or normalize_os(platform.system())
        self.arch = params["arch"] or normalize_arch(platform.machine())
        self.asset = asset_name(self.name, self.tag, self.os, self.arch)
        self.url = asset_url(params["base_url"] or DEFAULT_BASE_URLS[self.name], self.tag, self.asset)
        self.cache = os.path.join(params["cache_dir"], self.name, self.tag, "%s-%s" % (self.os, self.arch))
        if self.name == "minikube":
            self.artifact = os.path.join(self.cache, "minikube")
            self.release_dir = self.cache
        else:
            self.artifact = os.path.join(self.cache, self.asset)
            self.release_dir = os.path.join(self.cache, "istio-%s" % self.tag)

    @property
    def istioctl(self):
        return os.path.join(self.release_dir, "bin", "istioctl")

    def extracted(self):
        return self.name == "minikube" or os.path.isfile(self.istioctl)

    def install(self):
        """Make the release present; return (digest, cached, changed)."""
        digest = cached_digest(self.artifact)
        if digest and self.extracted():
            return digest, True, False
        if digest:
            if not self.module.check_mode:
                with cache_lock(self.cache):
                    remove_stale_temporaries(self.cache)
                    self._extract(self.artifact)
            return digest, True, True
        if read_verified(self.artifact):
            self.module.warn("The cached %s no longer matches the SHA-256 recorded when it was verified; downloading it again." % self.artifact)
        if self.module.check_mode:
            return None, False, True
        with cache_lock(self.cache):
            stale = remove_stale_temporaries(self.cache)
            if stale:
                self.module.warn("Removed what an interrupted install left in %s: %s." % (self.cache, ", ".join(stale)))
            return self._download(), False, True

    def _download(self):
        timeout = self.module.params["timeout"]
        checksum_url = self.url + ".sha256"
        try:
            expected = parse_checksum(fetch_text(self.module, checksum_url, timeout), self.asset)
        except ReleaseError as exc:
            raise ReleaseError("%s: %s" % (checksum_url, exc))
        os.makedirs(self.cache, exist_ok=True)
        temp_path = download_verified(self.module, self.url, expected, self.cache, timeout)
        try:
            if self.name == "minikube":
                os.chmod(temp_path, 0o755)
            else:
                os.chmod(temp_path, 0o644)
                self._extract(temp_path)
            os.replace(temp_path, self.artifact)
        except BaseException:
            remove_quietly(temp_path)
            raise
        # Written last: a record means the artifact (and its extracted tree) is complete.
        write_verified(self.artifact, expected)
        return expected

    def _extract(self, archive):
        """Extract into a fresh directory, then swap it in, so a half-extracted tree is never used."""
        staging = tempfile.mkdtemp(prefix=".extract-", dir=self.cache)
        try:
            safe_extract(archive, staging, self.asset)
            extracted = os.path.join(staging, os.path.basename(self.release_dir))
            if not os.path.isfile(os.path.join(extracted, "bin", "istioctl")):
                raise ReleaseError(
                    "%s does not contain %s/bin/istioctl; it is not an Istio release archive for this version."
                    % (self.asset, os.path.basename(self.release_dir))
                )
            if os.path.isdir(self.release_dir):
                shutil.rmtree(self.release_dir)
            os.rename(extracted, self.release_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def result(self, digest, cached, changed):
        result = dict(
            changed=changed,
            cached=cached,
            version=self.tag,
            url=self.url,
            sha256=digest,
            dir=self.release_dir,
            path=self.artifact,
        )
        if self.name == "istio":
            result.update(
                path=self.istioctl,
                istioctl=self.istioctl,
                samples_dir=os.path.join(self.release_dir, "samples"),
                manifests_dir=os.path.join(self.release_dir, "manifests"),
            )
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True, choices=list(PROJECTS)),
            version=dict(type="str", required=True),
            os=dict(type="str", choices=["linux", "darwin"]),
            arch=dict(type="str", choices=["amd64", "arm64"]),
            cache_dir=dict(type="path", default="~/.cache/istiolab-mesh"),
            base_url=dict(type="str"),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    try:
        release = ReleaseArtifact(module)
        digest, cached, changed = release.install()
    except ReleaseError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="Could not write the release cache (%s). Set cache_dir to a directory you can write to." % exc)
    result = release.result(digest, cached, changed)
    if module._diff:
        before = digest if cached and not changed else None
        result["diff"] = dict(before=dict(path=result["path"], sha256=before), after=dict(path=result["path"], sha256=digest))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
