"""The Chromium the browser tests drive: $MESH_CHROMIUM, else Debian's chromium on PATH. Missing, the test fails (it
does not skip): .ci/run installs it."""

from __future__ import annotations

import os
import shutil

import pytest


def binary() -> str:
    found = os.environ.get("MESH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is needed for the browser tests: run 'apt-get install -y chromium' as root "
                    "(.ci/run does it), or point MESH_CHROMIUM at a Chromium or Chrome binary.")
    return found
