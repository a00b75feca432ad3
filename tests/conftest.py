"""Suite-wide pytest configuration: the offline cluster fixtures (``harness``, ``fresh_harness``) and ``--shard``.

``--shard=K/N`` keeps the K-th of N parts of the collected tests, so N pytest processes run a suite side by side
(``make unit`` and ``make e2e`` run two; see the Makefile). Tests that share a fixture scoped to their module or
class (one provisioned demo read by several tests) stay together in one part, so the fixture is set up once; every
other test is a part of its own. Parts are dealt out in collection order, round robin, so a parametrized test's
cases (the demo on each host profile) are spread over the processes. Every test lands in exactly one part.
Each process starts its own session fixtures (the shared emulator, a few hundred ms) in its own temporary
directory: nothing is shared between the processes but the checkout, which the tests only read.
"""

import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest_plugins = ["tests.harness.fixtures"]


def pytest_addoption(parser):
    parser.addoption("--shard", default=None, metavar="K/N",
                     help="run only the K-th of N parts of the collected tests (1 <= K <= N); see tests/conftest.py")


def parse_shard(text):
    """``"K/N"`` -> (K, N); a usage error otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:  # not two integers (also "K" alone or "K/N/M")
        raise pytest.UsageError(f"--shard={text}: expected K/N, for example --shard=1/2") from None
    if not 1 <= index <= count:
        raise pytest.UsageError(f"--shard={text}: K must be between 1 and N")
    return index, count


def group_key(item):
    """What must run in the same process as ``item``: its module (or class) when it uses a fixture of that scope,
    else the test itself."""
    info = getattr(item, "_fixtureinfo", None)
    scopes = set()
    for definitions in (info.name2fixturedefs.values() if info else ()):
        scopes.update(definition.scope for definition in definitions)
    if "package" in scopes or "module" in scopes:
        return ("module", str(item.path))
    if "class" in scopes and getattr(item, "cls", None) is not None:
        return ("class", str(item.path), item.cls.__qualname__)
    return ("item", item.nodeid)


def shard_of(items, count):
    """The part (0-based) of each item: groups (see group_key) dealt round robin in collection order."""
    parts, groups = [], {}
    for item in items:
        key = group_key(item)
        if key not in groups:
            groups[key] = len(groups) % count
        parts.append(groups[key])
    return parts


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    text = config.getoption("shard")
    if not text:
        return
    index, count = parse_shard(text)
    keep, drop = [], []
    for item, part in zip(items, shard_of(items, count), strict=True):
        (keep if part == index - 1 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
