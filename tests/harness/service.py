"""One way to run a background service of the offline cluster: start, probe, stop, status.

A service is ``python -m <module> ...`` started detached in its own session (so it outlives the command that
started it and the terminal), logging to ``DIR/<name>.log``. Its state is ``DIR/<name>.json``, a JSON object
with at least ``"pid"`` (and ``"url"`` for services that announce one). Two ways to announce readiness:

* the port-file protocol (:func:`start`): the service is passed ``--port-file F`` and writes its base URL there
  once it listens (:func:`announce`, :func:`serve_until_terminated`); :func:`start` then writes the state file;
* the service writes its own state file (the API emulator's ``harness.json``): use :func:`spawn` and
  :func:`wait_until` with a predicate.

:func:`stop` sends SIGTERM, waits until the process is gone (SIGKILL after ``timeout``), reaps it when this
process started it, and removes the state file. :func:`status` returns the state while the process lives and,
with a probe, answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Popen objects of the services this process started, so stopping one also reaps it (no zombie is left).
_CHILDREN = {}


class ServiceStartError(RuntimeError):
    """A service did not come up; the message names it and carries the end of its log."""


def state_path(directory, name):
    return os.path.join(directory, name + ".json")


def log_path(directory, name):
    return os.path.join(directory, name + ".log")


def read_state(path):
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(path, state):
    """Write ``state`` so that a reader never sees half a file."""
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(path + ".tmp", path)


def pid_alive(pid):
    """True while the process exists and is not a zombie (an exited child nobody has reaped yet)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def answers(url, headers=None, timeout=2.0, context=None):
    """True when a GET of ``url`` gets a 2xx answer (over TLS with ``context``, an ``ssl.SSLContext``, for https)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def log_tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn(argv, log, env=None):
    """Start ``python -m ARGV`` from the checkout, detached in its own session, appending to ``log``."""
    with open(log, "ab") as handle:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives this call on purpose
            [sys.executable, "-m", *argv], cwd=REPO, env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL,
            stdout=handle, stderr=handle, start_new_session=True, close_fds=True)
    _CHILDREN[process.pid] = process
    return process


def wait_until(process, ready, what, log, timeout=10.0):
    """Poll ``ready()`` until it returns something true and return that; on exit or timeout kill and raise."""
    deadline = time.monotonic() + timeout
    while True:
        result = ready()
        if result:
            return result
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            _CHILDREN.pop(process.pid, None)
            raise ServiceStartError(
                f"{what} did not start within {timeout:.0f}s (exit code {process.returncode}); "
                f"end of {log}:\n{log_tail(log)}")
        time.sleep(0.05)


def start(directory, name, argv, probe_path, env=None, extra=None, timeout=10.0, what=None):
    """Run ``python -m ARGV --port-file F`` as service ``name`` of DIR; return its state ``{"url", "pid", **extra}``.

    Idempotent: a recorded service whose process lives and answers ``probe_path`` is kept as it is.
    """
    os.makedirs(directory, exist_ok=True)
    running = status(directory, name, probe_path)
    if running:
        return running
    path = state_path(directory, name)
    if os.path.exists(path):
        stop(directory, name)  # a recorded process that no longer answers: do not leave it behind
    port_file = os.path.join(directory, name + ".port")
    if os.path.exists(port_file):
        os.remove(port_file)
    log = log_path(directory, name)
    process = spawn([*argv, "--port-file", port_file], log, env)

    def announced():
        try:
            with open(port_file, encoding="utf-8") as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return None

    url = wait_until(process, announced, what or name, log, timeout)
    os.remove(port_file)
    state = dict(extra or {}, url=url, pid=process.pid)
    write_state(path, state)
    return state


def stop_pid(pid, timeout=10.0):
    """SIGTERM ``pid``, wait until it is gone (SIGKILL after ``timeout``), reap it. False if it was not running."""
    stopped = False
    if pid_alive(pid):
        stopped = True
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid):
                    time.sleep(0.05)
        except ProcessLookupError:
            pass
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
    else:
        _wait_reaped(pid, timeout)
    return stopped


def _wait_reaped(pid, timeout):
    """Wait until a dead process another parent started is reaped too (init may take a second or two)."""
    deadline = time.monotonic() + timeout
    while isinstance(pid, int) and pid > 0 and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def stop(directory, name, timeout=10.0):
    """Stop service ``name`` of DIR and remove its state file. Returns False if none was running."""
    path = state_path(directory, name)
    state = read_state(path)
    stopped = bool(state) and stop_pid(state.get("pid"), timeout)
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    return stopped


def status(directory, name, probe_path=None):
    """The state of service ``name`` while its process lives (and answers ``probe_path`` on its url), else None."""
    state = read_state(state_path(directory, name))
    if not state or not pid_alive(state.get("pid")):
        return None
    if probe_path is not None and not answers(state.get("url", "") + probe_path):
        return None
    return state


def announce(url, port_file):
    """Tell the process that started this service where it listens (the file appears atomically)."""
    if port_file:
        with open(port_file + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(url)
        os.replace(port_file + ".tmp", port_file)


def serve_until_terminated(httpd, port_file, url):
    """Serve ``httpd`` in the foreground until SIGTERM, then close its socket (the body of a ``serve`` command)."""
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    announce(url, port_file)
    httpd.serve_forever()
    httpd.server_close()
    return 0
