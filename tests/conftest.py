"""Suite-wide pytest configuration: the offline cluster fixtures (``harness``, ``fresh_harness``)."""

pytest_plugins = ["tests.harness.fixtures"]
