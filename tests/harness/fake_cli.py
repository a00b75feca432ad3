#!/usr/bin/env python
"""Entry point of the offline cluster's fake CLIs.

``tests/harness/bin/<cli>`` are links to this file; the name it is called by picks
``tests/harness/fake_<cli>.py``. One file instead of one wrapper per CLI.
"""
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def run():
    sys.path.insert(0, ROOT)
    cli = os.path.basename(sys.argv[0])
    module = importlib.import_module("tests.harness.fake_%s" % cli)
    return module.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(run())
