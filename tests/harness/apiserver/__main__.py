"""Run the emulator in the foreground: ``python -m tests.harness.apiserver --dir DIR [--port N]``."""

import sys

from .server import main

sys.exit(main())
