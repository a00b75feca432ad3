"""Build the collection, install the tarball, and render every module's docs from the installed copy.

What a user gets from Galaxy is the tarball, not the checkout, so the docs are read from a copy
installed into an empty collections path. ansible runs from a directory without the repo's
ansible.cfg and with no ANSIBLE_* settings from the caller, so the checkout's collections/ link
cannot stand in for the installed copy. The venv's bundled collections (kubernetes.core) stay
visible through Python's sys.path, as they are for a user.
Also lints the changelog fragments, which the build ships.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tarfile
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tools._common import FQCN, NAME, NAMESPACE, REPO, Timer, ToolError, run, venv_bin

# Paths of the checkout that must never ship: local state, the self link, test output, render output.
FORBIDDEN_IN_TARBALL = (".venv", ".cache", ".harness", ".git", "collections", "tests/output", "rendered", "playbooks/rendered")
# ansible-doc reports problems on stderr without always failing.
DOC_PROBLEM = re.compile(r"\[(?:ERROR|WARNING)\]|ERROR!")


def module_names(collection: Path) -> list[str]:
    """Modules are the .py files of plugins/modules (a package __init__ is not one)."""
    modules = collection / "plugins" / "modules"
    return sorted(p.stem for p in modules.glob("*.py") if p.name != "__init__.py")


def forbidden_members(names: list[str]) -> list[str]:
    bad = []
    for name in names:
        clean = name.removeprefix("./")
        if any(clean == top or clean.startswith(top + "/") for top in FORBIDDEN_IN_TARBALL):
            bad.append(clean)
    return bad


def isolated_env(work: Path, collections_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    empty_cfg = work / "empty-ansible.cfg"
    empty_cfg.touch()
    env.update(
        ANSIBLE_CONFIG=str(empty_cfg),
        ANSIBLE_COLLECTIONS_PATH=str(collections_path),
        ANSIBLE_NOCOLOR="1",
    )
    return env


def build(work: Path, source: Path) -> Path:
    dist = work / "dist"
    result = run([venv_bin("ansible-galaxy"), "collection", "build", source, "--output-path", dist],
                 cwd=work, env=isolated_env(work, work / "none"), capture_output=True, text=True)
    tarballs = sorted(dist.glob(f"{NAMESPACE}-{NAME}-*.tar.gz"))
    if result.returncode != 0 or len(tarballs) != 1:
        raise ToolError(f"ansible-galaxy collection build failed (exit {result.returncode}):\n"
                        f"{result.stdout}{result.stderr}\nFix galaxy.yml or build_ignore and run again.")
    print(result.stdout.strip())
    return tarballs[0]


def check_tarball(tarball: Path, source: Path) -> int:
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    bad = forbidden_members(names)
    if bad:
        raise ToolError(f"{tarball.name} ships local or test-output files: {', '.join(sorted(bad)[:10])}"
                        f"{' ...' if len(bad) > 10 else ''}; add them to build_ignore in galaxy.yml")
    shipped = {Path(n.removeprefix("./")).stem for n in names
               if re.fullmatch(r"(?:\./)?plugins/modules/[^/]+\.py", n) and not n.endswith("__init__.py")}
    missing = sorted(set(module_names(source)) - shipped)
    if missing:
        raise ToolError(f"{tarball.name} lacks modules present in the checkout: {', '.join(missing)}; "
                        f"check build_ignore in galaxy.yml")
    return len(names)


def install(work: Path, tarball: Path) -> Path:
    collections_path = work / "collections"
    result = run([venv_bin("ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
                  "-p", collections_path, tarball],
                 cwd=work, env=isolated_env(work, collections_path), capture_output=True, text=True)
    installed = collections_path / "ansible_collections" / NAMESPACE / NAME
    if result.returncode != 0 or not (installed / "MANIFEST.json").is_file():
        raise ToolError(f"ansible-galaxy collection install of {tarball.name} failed (exit {result.returncode}):\n"
                        f"{result.stdout}{result.stderr}")
    return collections_path


def render_docs(work: Path, collections_path: Path) -> list[str]:
    """Render each installed module's docs; return one error line per module that failed."""
    installed = collections_path / "ansible_collections" / NAMESPACE / NAME
    env = isolated_env(work, collections_path)
    errors = []
    modules = module_names(installed)
    for module in modules:
        fqcn = f"{FQCN}.{module}"
        result = run([venv_bin("ansible-doc"), "-t", "module", fqcn], cwd=work, env=env,
                     capture_output=True, text=True)
        problems = [line for line in result.stderr.splitlines() if DOC_PROBLEM.search(line)]
        if result.returncode != 0 or problems:
            detail = "; ".join(problems) or result.stderr.strip() or "no message"
            errors.append(f"{fqcn}: ansible-doc exit {result.returncode}: {detail}")
        elif f"({installed}" not in result.stdout or "OPTIONS" not in result.stdout:
            # ansible-doc names the file it read: proof the docs came from the installed copy.
            errors.append(f"{fqcn}: rendered without OPTIONS or not from {installed}:\n{result.stdout[:500]}")
        else:
            print(f"  {fqcn}: OK ({len(result.stdout.splitlines())} lines)")
    if not modules:
        errors.append(f"no modules in {installed}/plugins/modules: nothing to document is not a pass")
    return errors


def lint_changelog(source: Path) -> list[str]:
    errors = []
    for cmd in (["lint"], ["lint-changelog-yaml", "changelogs/changelog.yaml"]):
        result = run([venv_bin("antsibull-changelog"), *cmd], cwd=source, capture_output=True, text=True)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or output:
            errors.append(f"antsibull-changelog {cmd[0]} (exit {result.returncode}):\n{output}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to build (default: this one)")
    args = parser.parse_args(argv)
    source = args.source.resolve()
    timer = Timer()
    errors: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="build-doc-") as tmp:
            work = Path(tmp)
            with timer.step("build"):
                tarball = build(work, source)
                members = check_tarball(tarball, source)
            print(f"{tarball.name}: {members} members, none of {', '.join(FORBIDDEN_IN_TARBALL)}")
            with timer.step("install"):
                collections_path = install(work, tarball)
            with timer.step("ansible-doc"):
                errors += render_docs(work, collections_path)
        with timer.step("changelog lint"):
            errors += lint_changelog(source)
    except ToolError as exc:
        errors.append(str(exc))
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    verdict = "passed" if not errors else f"FAILED ({len(errors)} error(s))"
    print(f"build-doc {verdict}: {timer.summary()}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
