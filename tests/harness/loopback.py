"""HTTP servers of the offline cluster and the tests: bound to 127.0.0.1, served from a thread."""

from __future__ import annotations

import http.server
import threading


class LoopbackServer(http.server.ThreadingHTTPServer):
    # The default backlog of 5 drops the connections of a client sending 10 at once, which the client's TCP
    # then retries a second later: a latency that is the server's, not what it stands in for.
    request_queue_size = 128
    daemon_threads = True


class BackgroundServer:
    """A LoopbackServer on a free port (or ``port``) with ``handler``, served from a thread.

    ``url`` is its base URL; use it as a context manager, or call start() and stop().
    """

    def __init__(self, handler, port=0):
        self.httpd = LoopbackServer(("127.0.0.1", port), handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        # A short poll makes stop() quick, which the many short-lived servers of the tests notice.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
