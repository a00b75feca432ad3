# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option documentation shared by the modules that wrap a CLI (one place for each fact)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The binary of the wrapped CLI: BINARY_ARG_SPEC in module_utils/_cli.py (cli_argument_spec adds it).
    DOCUMENTATION = r"""
options:
  binary_path:
    description:
      - Path of the CLI binary the module runs.
      - When not set, the binary is looked up on C(PATH).
      - The M(istiolab.mesh.release_artifact) module installs a pinned, checksum-verified binary
        and returns its path.
    type: path
"""

    # Cluster connection: KUBE_ARG_SPEC in module_utils/_cli.py (cli_argument_spec(kube=True) adds it).
    KUBE = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig file the CLI uses.
      - Falls back to the E(K8S_AUTH_KUBECONFIG) environment variable, like M(kubernetes.core.k8s),
        then to the CLI's own default (E(KUBECONFIG) or C(~/.kube/config)).
    type: path
  context:
    description:
      - The kubeconfig context to use.
      - Falls back to the E(K8S_AUTH_CONTEXT) environment variable, then to the current context.
    type: str
"""
