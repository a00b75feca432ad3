"""``python -m tests.harness up|down|env|status [--dir DIR]``: the offline cluster's lifecycle."""

import argparse
import os
import sys

from .apiserver import lifecycle


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness", description="Start, stop or inspect the offline Kubernetes cluster.")
    parser.add_argument("command", choices=["up", "down", "env", "status"])
    parser.add_argument("--dir", default=None, help="state directory (default: $MESH_HARNESS_DIR or <repo>/.harness)")
    args = parser.parse_args(argv)
    directory = lifecycle.default_dir() if args.dir is None else os.path.abspath(args.dir)
    if args.command == "up":
        try:
            info = lifecycle.up(directory)
        except lifecycle.HarnessStartError as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return 1
        print(f"harness: API emulator on {info['server']} (pid {info['pid']}); use it with: . {directory}/env.sh")
        return 0
    if args.command == "down":
        stopped = lifecycle.down(directory)
        print("harness: stopped" if stopped else f"harness: nothing was running in {directory}")
        return 0
    if args.command == "env":
        print(lifecycle.env_script(directory), end="")
        return 0
    info = lifecycle.running(directory)
    print(f"harness: running on {info['server']} (pid {info['pid']})" if info else f"harness: not running in {directory}")
    return 0 if info else 3


sys.exit(main())
