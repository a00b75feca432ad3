"""``python -m tests.harness up|down|env|status [--all] [--dir DIR]``: the offline cluster's lifecycle.

Without ``--all`` the commands act on the API emulator only. With ``--all`` they also act on the other
background services of the offline cluster: the fake Istio release server and the data-plane stand-in
(``up`` starts them after the emulator, ``down`` stops them before it).
"""

import argparse
import os
import sys

from . import service
from .apiserver import lifecycle


def _others():
    """(label, module) of the services besides the emulator, in start order (imported only for --all)."""
    from . import dataplane, fake_release  # pylint: disable=import-outside-toplevel

    return [("fake Istio release", fake_release), ("data-plane stand-in", dataplane)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness", description="Start, stop or inspect the offline Kubernetes cluster.")
    parser.add_argument("command", choices=["up", "down", "env", "status"])
    parser.add_argument("--dir", default=None, help="state directory (default: $MESH_HARNESS_DIR or <repo>/.harness)")
    parser.add_argument("--all", action="store_true",
                        help="also the fake Istio release server and the data-plane stand-in, not only the API emulator")
    args = parser.parse_args(argv)
    directory = lifecycle.default_dir() if args.dir is None else os.path.abspath(args.dir)
    others = _others() if args.all else []
    if args.command == "up":
        try:
            info = lifecycle.up(directory)
            print(f"harness: API emulator on {info['server']} (pid {info['pid']}); use it with: . {directory}/env.sh")
            for label, module in others:
                state = module.up(directory)
                print(f"harness: {label} on {state['url']} (pid {state['pid']})")
        except service.ServiceStartError as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        for label, module in reversed(others):
            print(f"harness: {label} stopped" if module.down(directory) else f"harness: no {label} was running in {directory}")
        stopped = lifecycle.down(directory)
        print("harness: stopped" if stopped else f"harness: nothing was running in {directory}")
        return 0
    if args.command == "env":
        print(lifecycle.env_script(directory), end="")
        return 0
    info = lifecycle.running(directory)
    print(f"harness: running on {info['server']} (pid {info['pid']})" if info else f"harness: not running in {directory}")
    all_up = bool(info)
    for label, module in others:
        state = service.status(directory, module.STATE_NAME)
        print(f"harness: {label} on {state['url']} (pid {state['pid']})" if state else f"harness: {label} not running")
        all_up = all_up and bool(state)
    return 0 if all_up else 3


sys.exit(main())
