"""`make render` (playbooks/render.yml) writes where the README says, rendered/ of the directory it runs from, not
playbooks/rendered/ inside the collection; `make clean` removes it and the built tarball leaves it out."""

import fnmatch
import os
import re
import subprocess

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")


def test_render_writes_into_the_directory_it_runs_from(tmp_path):
    inside = os.path.join(REPO, "playbooks", "rendered")
    existed = os.path.exists(inside)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PWD=str(tmp_path), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", "render.yml"),
         "-e", '{"render_roles": ["routing"], "routing_scenarios": ["canary"]}'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "rendered" / "canary.yml").is_file(), done.stdout
    assert existed or not os.path.exists(inside), "render.yml wrote into playbooks/rendered/"


def test_the_tarball_and_make_clean_leave_no_render_output():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        ignored = yaml.safe_load(handle)["build_ignore"]
    # ansible-galaxy matches build_ignore against each directory's path relative to the collection root.
    for path in ("rendered", "playbooks/rendered"):
        assert any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f"{path}/ would ship in the tarball"
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as handle:
        clean = re.search(r"^clean:.*\n((?:\t.*\n)+)", handle.read(), re.MULTILINE).group(1)
    removed = clean.split()
    assert "rendered" in removed and "playbooks/rendered" in removed, clean
