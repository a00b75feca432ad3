"""tests/tools/build_and_doc.py on small collections built here: what passes and what must not."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from tests.tools import build_and_doc
from tests.tools._common import REPO

GOOD_MODULE = textwrap.dedent('''\
    #!/usr/bin/python
    from __future__ import absolute_import, division, print_function
    __metaclass__ = type

    DOCUMENTATION = r"""
    module: ping_mesh
    short_description: Answers pong
    description: [Returns its argument.]
    author: [Jane Doe (@janedoe)]
    options:
      data:
        description: [What to return.]
        type: str
        default: pong
    """
    EXAMPLES = r"""
    - name: Ping
      istiolab.mesh.ping_mesh:
    """
    RETURN = r"""
    ping:
      description: The data.
      returned: always
      type: str
    """
    ''')


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    (root / "plugins" / "modules").mkdir(parents=True)
    (root / "galaxy.yml").write_text(textwrap.dedent("""\
        namespace: istiolab
        name: mesh
        version: 0.0.1
        readme: README.md
        authors: [t]
        build_ignore: [.venv, .cache]
        """))
    (root / "README.md").write_text("# tiny\n")
    (root / "plugins" / "modules" / "__init__.py").write_text("")
    (root / "plugins" / "modules" / "ping_mesh.py").write_text(GOOD_MODULE)
    shutil.copytree(REPO / "changelogs", root / "changelogs",
                    ignore=shutil.ignore_patterns("fragments", ".plugin-cache.yaml"))
    (root / "changelogs" / "fragments").mkdir()
    (root / "changelogs" / "fragments" / "ping.yml").write_text("minor_changes:\n  - ping_mesh - new.\n")
    # Local state that build_ignore keeps out of the tarball.
    (root / ".cache").mkdir()
    (root / ".cache" / "state.json").write_text("{}\n")
    return root


def test_a_good_collection_passes_with_docs_from_the_installed_copy(source, capsys):
    assert build_and_doc.main(["--source", str(source)]) == 0
    out = capsys.readouterr().out
    assert "  istiolab.mesh.ping_mesh: OK (" in out
    assert "build-doc passed: build " in out


def test_a_module_whose_docs_do_not_parse_fails_by_name(source, capsys):
    broken = GOOD_MODULE.replace("module: ping_mesh", "module: broken_mesh").replace(
        "short_description: Answers pong", "short_description: Answers: pong: now")
    (source / "plugins" / "modules" / "broken_mesh.py").write_text(broken)
    assert build_and_doc.main(["--source", str(source)]) == 1
    captured = capsys.readouterr()
    assert "  istiolab.mesh.ping_mesh: OK (" in captured.out
    assert "ERROR: istiolab.mesh.broken_mesh: ansible-doc exit 1: " in captured.err
    assert "could not parse documentation" in captured.err


def test_a_module_without_docs_fails(source, capsys):
    (source / "plugins" / "modules" / "bare.py").write_text("#!/usr/bin/python\n")
    assert build_and_doc.main(["--source", str(source)]) == 1
    assert "ERROR: istiolab.mesh.bare: ansible-doc exit 1: " in capsys.readouterr().err


def test_local_state_in_the_tarball_fails(source, capsys):
    (source / ".harness").mkdir()
    (source / ".harness" / "kubeconfig").write_text("apiVersion: v1\n")
    assert build_and_doc.main(["--source", str(source)]) == 1
    err = capsys.readouterr().err
    assert "ships local or test-output files: .harness, .harness/kubeconfig; add them to build_ignore" in err


def test_an_invalid_changelog_fragment_fails(source, capsys):
    (source / "changelogs" / "fragments" / "bad.yml").write_text("new_stuff:\n  - x\n")
    assert build_and_doc.main(["--source", str(source)]) == 1
    err = capsys.readouterr().err
    assert "antsibull-changelog lint (exit 3):\nchangelogs/fragments/bad.yml:0:0: invalid section: new_stuff" in err


def test_no_modules_is_not_a_pass(source, capsys):
    (source / "plugins" / "modules" / "ping_mesh.py").unlink()
    assert build_and_doc.main(["--source", str(source)]) == 1
    assert "nothing to document is not a pass" in capsys.readouterr().err


@pytest.mark.parametrize(("member", "forbidden"), [
    ("./.venv/bin/python", True),
    (".cache/ansible-test/x", True),
    ("collections/ansible_collections/istiolab/mesh", True),
    ("tests/output/junit.xml", True),
    (".git", True),
    ("rendered/istio.yml", True),
    ("playbooks/rendered/canary.yml", True),
    ("playbooks/render.yml", False),
    ("tests/unit/test_x.py", False),
    ("plugins/modules/cache.py", False),
    ("docs/collections.md", False),
])
def test_forbidden_members(member, forbidden):
    assert build_and_doc.forbidden_members([member]) == ([member.removeprefix("./")] if forbidden else [])


def test_a_module_documented_without_options_counts_as_empty(source, capsys):
    (source / "plugins" / "modules" / "ping_mesh.py").write_text(
        GOOD_MODULE.replace(GOOD_MODULE[GOOD_MODULE.index("options:"):GOOD_MODULE.index('"""\nEXAMPLES')], ""))
    assert build_and_doc.main(["--source", str(source)]) == 1
    assert "ERROR: istiolab.mesh.ping_mesh: rendered without OPTIONS" in capsys.readouterr().err
