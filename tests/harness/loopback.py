"""HTTP(S) servers of the offline cluster and the tests: bound to 127.0.0.1, served from a thread."""

from __future__ import annotations

import http.server
import ssl
import sys
import threading

HANDSHAKE_TIMEOUT = 10.0


def server_tls_context(cert_file, key_file, client_ca_file=None):
    """TLS 1.2+ serving ``cert_file``; with ``client_ca_file``, a client certificate is asked for and, when one is
    given, verified against that CA (kube-apiserver with ``--client-ca-file`` asks for one but does not require it:
    a client without one is the anonymous user)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_tls_context(ca_file, cert_file=None, key_file=None):
    """What a client of the emulator uses: trust ``ca_file`` only, present the client pair when given."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class LoopbackServer(http.server.ThreadingHTTPServer):
    # The default backlog of 5 drops the connections of a client sending 10 at once, which the client's TCP
    # then retries a second later: a latency that is the server's, not what it stands in for.
    request_queue_size = 128
    daemon_threads = True

    def __init__(self, address, handler, ssl_context=None):
        self.ssl_context = ssl_context
        super().__init__(address, handler)

    @property
    def scheme(self):
        return "https" if self.ssl_context else "http"

    def get_request(self):
        sock, address = super().get_request()
        if self.ssl_context:
            # The handshake happens in the request's thread (finish_request), so a slow or failing client never holds
            # up accepting the next connection.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request, client_address):
        if self.ssl_context:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                sys.stderr.write("TLS handshake from %s:%s failed: %s\n" % (client_address[0], client_address[1], exc))
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


class BackgroundServer:
    """A LoopbackServer on a free port (or ``port``) with ``handler``, served from a thread.

    ``url`` is its base URL (https with ``ssl_context``); use it as a context manager, or call start() and stop().
    """

    def __init__(self, handler, port=0, ssl_context=None):
        self.httpd = LoopbackServer(("127.0.0.1", port), handler, ssl_context)
        self.url = "%s://127.0.0.1:%d" % (self.httpd.scheme, self.httpd.server_address[1])
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
