"""What the `make test` tools share: where the checkout and its venv are, which files belong to the
collection, and running a command so that a person sees what ran and how long it took."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "istiolab"
NAME = "mesh"
FQCN = f"{NAMESPACE}.{NAME}"
# The committed link collections/ansible_collections/istiolab/mesh -> repo root; a copy of the
# collection must not contain it or the copy would contain itself.
SELF_LINK_DIR = "collections"


class ToolError(Exception):
    """A check failed; the message says what, in the tool's own words, and what to do next."""


def venv_bin(name: str) -> Path:
    """Return an executable installed beside the running interpreter (the project's venv)."""
    # Not resolved: the venv's python is a symlink to the base interpreter, whose bin/ lacks our tools.
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise ToolError(f"{path} not found; run `make test` (it installs requirements-test.txt into .venv) "
                        f"or run this tool with the venv's python")
    return path


def collection_files(repo: Path = REPO) -> list[str]:
    """Return the collection's files: tracked plus untracked-not-ignored, minus the self link."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout
    files = []
    for rel in sorted(set(filter(None, out.split("\0")))):
        if rel.split("/", 1)[0] == SELF_LINK_DIR:
            continue
        # A tracked file deleted in the work tree is not part of what is being tested.
        if (repo / rel).is_symlink() or (repo / rel).exists():
            files.append(rel)
    return files


def copy_collection(dest: Path, repo: Path = REPO) -> int:
    """Copy the collection's files to dest (links stay links); return how many were copied."""
    files = collection_files(repo)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, target, follow_symlinks=False)
    return len(files)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run cmd after printing it; never raises on a non-zero exit (callers decide)."""
    print(f"$ {shlex.join(str(c) for c in cmd)}", flush=True)
    return subprocess.run([str(c) for c in cmd], check=False, **kwargs)


class Timer:
    """Collects named durations for the closing summary."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self._start = time.monotonic()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        since = time.monotonic()
        try:
            yield
        finally:
            self.steps.append((name, time.monotonic() - since))

    def summary(self) -> str:
        parts = [f"{name} {secs:.1f}s" for name, secs in self.steps]
        parts.append(f"total {time.monotonic() - self._start:.1f}s")
        return ", ".join(parts)
