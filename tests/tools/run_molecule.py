"""Run every molecule scenario (molecule/<name>/), non-zero when any fails: `make molecule`.

Offline (the default) the scenarios run against the offline cluster of tests/harness: a fresh
harness directory is made, the environment points KUBECONFIG / K8S_AUTH_KUBECONFIG at it and puts
the fake minikube, istioctl and docker first on PATH, and one `molecule test` runs every scenario.
The base config (.config/molecule/config.yml) sets shared_state, so the `default` scenario starts
the cluster once before all scenarios and stops it after them.

With MESH_CLUSTER=real the same scenarios run against the current kubeconfig context with the real
CLIs (a running minikube or any cluster Istio supports); the environment is left as it is.

  run_molecule.py                 every scenario
  run_molecule.py preflight ...   only the named scenarios (each with its own cluster start/stop)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tools._common import REPO, Timer, ToolError, run, venv_bin

HARNESS_BIN = REPO / "tests" / "harness" / "bin"


def scenarios() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def offline_env(harness_dir: Path) -> dict[str, str]:
    """The environment of env.sh for harness_dir (the harness contract), on top of this one."""
    kubeconfig = str(harness_dir / "kubeconfig")
    env = dict(os.environ)
    # A context named by the caller's environment must not leak into the offline run.
    env.pop("K8S_AUTH_CONTEXT", None)
    env.update(
        MESH_CLUSTER="harness",
        MESH_HARNESS_DIR=str(harness_dir),
        KUBECONFIG=kubeconfig,
        K8S_AUTH_KUBECONFIG=kubeconfig,
        PATH=os.pathsep.join([str(HARNESS_BIN), env.get("PATH", "")]),
    )
    return env


def stop_leftover_harness(harness_dir: Path) -> None:
    """Stop the emulator if a failed destroy left it running; molecule already stops it normally."""
    state = harness_dir / "harness.json"
    if not state.exists():
        return
    run([sys.executable, "-m", "tests.harness", "down", "--dir", harness_dir], cwd=REPO)
    if state.exists():
        pid = json.loads(state.read_text()).get("pid")
        if pid:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("scenario", nargs="*", help=f"scenarios to run (default: all of {', '.join(scenarios())})")
    parser.add_argument("--keep", action="store_true", help="keep the harness directory and molecule state for inspection")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenario) - set(scenarios()))
    if unknown:
        parser.error(f"no such scenario: {', '.join(unknown)} (have: {', '.join(scenarios())})")

    timer = Timer()
    real = os.environ.get("MESH_CLUSTER") == "real"
    work_dir = Path(tempfile.mkdtemp(prefix="mesh-molecule-"))
    harness_dir = None if real else work_dir / "harness"
    env = dict(os.environ) if real else offline_env(harness_dir)
    # molecule runs ansible-config and ansible-playbook from PATH: the venv's, beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    print(f"molecule against {'the current kubeconfig context (MESH_CLUSTER=real)' if real else f'the offline cluster in {harness_dir}'}")

    failed = []
    try:
        molecule = str(venv_bin("molecule"))
        runs = [["--all"]] if not args.scenario else [["-s", name] for name in args.scenario]
        for number, selection in enumerate(runs):
            label = " ".join(selection)
            # Molecule keeps whether the shared cluster was "created" in its ephemeral state; a state
            # of its own per run makes the default scenario start this run's cluster, whatever an
            # earlier or a concurrent run left behind.
            env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(work_dir / f"molecule-{number}")
            with timer.step(f"molecule test {label}"):
                if run([molecule, "test", *selection], cwd=REPO, env=env).returncode != 0:
                    failed.append(label)
    except ToolError as exc:
        print(f"molecule: {exc}", file=sys.stderr)
        return 1
    finally:
        if harness_dir is not None:
            stop_leftover_harness(harness_dir)
        if args.keep:
            print(f"molecule state and harness directory kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    verdict = f"FAILED ({', '.join(failed)})" if failed else "passed"
    print(f"molecule {verdict}: {timer.summary()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
