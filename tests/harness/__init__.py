"""The offline cluster: a Kubernetes API emulator (``apiserver/``), its client (``client.py``), fake CLIs
(``bin/``) and the pytest fixture (``fixtures.py``). Start it with ``python -m tests.harness up``; see README.md."""
