"""``pods/portforward`` of the emulator: the SPDY/3.1 session kubelet serves, behind the API server's upgrade.

What kubectl (client-go ``tools/portforward``) does, and what this module answers:

* It first asks for a WebSocket upgrade (``GET .../pods/<name>/portforward``, subprotocol
  ``SPDY/3.1+portforward.k8s.io``) and speaks SPDY inside binary WebSocket messages; a server without that
  makes it fall back to a plain ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version: portforward.k8s.io``.
  Both are served here; the SPDY session on top is the same.
* Per local connection it opens two SPDY streams (SYN_STREAM) with the headers ``streamtype`` (``error``,
  then ``data``), ``port`` and ``requestid``; each gets a SYN_REPLY. The data stream's bytes go to what
  listens on that port of the pod, and its answer comes back as DATA frames, ended by FIN on both streams.
  When nothing listens there, the error stream carries the message kubelet writes (containerd's runtime),
  then both streams end; kubectl prints it and drops the session.
* PING is echoed, RST_STREAM closes the stream's connection, GOAWAY (or the end of the socket) ends the
  session; SETTINGS and WINDOW_UPDATE are read and ignored (the harness does no flow control).

Header blocks are zlib streams with the SPDY/3 dictionary (one stream per direction for the whole session).

Who listens on a pod's port: the data-plane stand-in registered for exec (``/_harness/exec-backend``) gets
``POST <url>/_dataplane/portforward {namespace, pod, labels, port}`` and answers ``{"host", "port"}`` of its
listener, or ``{}`` when nothing serves that port of that pod. Without a stand-in no port has a listener.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import urllib.request
import zlib

from . import exec_stream
from .common import ApiError

WEBSOCKET_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
STREAM_PROTOCOL = "portforward.k8s.io"
SPDY_VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
CHUNK = 32 * 1024

# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00, section 2.6.10.1): these words,
# each after its 4-byte big-endian length, then the tail as it is.
_DICTIONARY_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age allow "
    "authorization cache-control connection content-base content-encoding content-language content-length "
    "content-location content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status|200 OK|version HTTP/1.1 url public set-cookie "
    "keep-alive origin"
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _split_words():
    """The dictionary's words in order: ``|`` separates the ones that hold a space (``200 OK``)."""
    words = []
    for index, chunk in enumerate(_DICTIONARY_WORDS.split("|")):
        words.extend([chunk] if index % 2 else chunk.split())
    return words


DICTIONARY = b"".join(struct.pack("!I", len(w)) + w.encode() for w in _split_words()) + _DICTIONARY_TAIL.encode()


def listener(backend, pod, port):
    """``(host, port)`` of what serves ``port`` of ``pod`` according to the data-plane stand-in, or None."""
    if not backend.url:
        return None
    meta = pod["metadata"]
    data = json.dumps({"namespace": meta.get("namespace"), "pod": meta["name"], "labels": meta.get("labels") or {},
                       "port": port}).encode()
    req = urllib.request.Request(backend.url.rstrip("/") + "/_dataplane/portforward", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            found = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    return (found["host"], int(found["port"])) if found.get("port") else None


def refused_message(pod, port):
    """What kubelet writes on the error stream when nothing listens on the port (containerd's runtime). Where the
    real message names the pod sandbox's id and network namespace, the harness puts the pod's uid."""
    sandbox = pod["metadata"].get("uid", "").replace("-", "")
    netns = "/var/run/netns/cni-" + pod["metadata"].get("uid", "")
    return ('error forwarding port %d to pod %s, uid : failed to execute portforward in network namespace "%s": '
            'failed to connect to localhost:%d inside namespace "%s", IPv4: dial tcp4 127.0.0.1:%d: connect: connection refused '
            'IPv6 dial tcp6 [::1]:%d: connect: connection refused ' % (port, sandbox, netns, port, sandbox, port, port))


class _RawPipe:
    """The upgraded socket itself (the SPDY/3.1 upgrade)."""

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile

    def read(self, size):
        data = self.rfile.read(size)
        if len(data) < size:
            raise EOFError
        return data

    def write(self, data):
        self.wfile.write(data)


class _WebSocketPipe(_RawPipe):
    """SPDY bytes carried in binary WebSocket messages (client-go's TunnelingConnection)."""

    def __init__(self, rfile, wfile):
        super().__init__(rfile, wfile)
        self.pending = b""

    def _message(self):
        while True:
            head = super().read(2)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", super().read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", super().read(8))[0]
            mask = super().read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(super().read(length)))
            if opcode == 0x8:
                raise EOFError
            if opcode == 0x9:
                self.write_frame(payload, 0xA)
            elif opcode in (0x0, 0x2):
                return payload

    def read(self, size):
        while len(self.pending) < size:
            self.pending += self._message()
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def write_frame(self, payload, opcode):
        self.wfile.write(exec_stream.frame(payload, opcode))

    def write(self, data):
        self.write_frame(data, 0x2)


class Session:
    """One SPDY/3.1 port-forward session over ``pipe`` for the stored ``pod``."""

    def __init__(self, pipe, pod, backend):
        self.pipe, self.pod, self.backend = pipe, pod, backend
        self.lock = threading.Lock()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self.error_streams = {}  # requestid -> error stream id
        self.sockets = {}  # data stream id -> socket to the listener

    # ---- frames ----------------------------------------------------------------------------------
    def _send(self, data):
        with self.lock:
            try:
                self.pipe.write(data)
            except OSError:
                pass

    def _control(self, kind, payload, flags=0):
        self._send(struct.pack("!HHI", 0x8000 | SPDY_VERSION, kind, (flags << 24) | len(payload)) + payload)

    def _data(self, stream, payload, fin=False):
        self._send(struct.pack("!II", stream & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload)

    def _reply(self, stream):
        with self.lock:  # the compressor's state must follow the order the frames go out in
            block = self.deflate.compress(struct.pack("!I", 0)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            payload = struct.pack("!I", stream) + block
            try:
                self.pipe.write(struct.pack("!HHI", 0x8000 | SPDY_VERSION, SYN_REPLY, len(payload)) + payload)
            except OSError:
                pass

    def _headers(self, block):
        raw = self.inflate.decompress(block)
        count, offset, headers = struct.unpack_from("!I", raw)[0], 4, {}
        for _pair in range(count):
            pair = []
            for _part in range(2):
                length = struct.unpack_from("!I", raw, offset)[0]
                pair.append(raw[offset + 4:offset + 4 + length].decode())
                offset += 4 + length
            headers[pair[0].lower()] = pair[1].split("\0")[0]
        return headers

    # ---- the session -----------------------------------------------------------------------------
    def run(self):
        try:
            while self._frame():
                pass
        except (EOFError, OSError, zlib.error, struct.error):
            pass
        finally:
            for sock in list(self.sockets.values()):
                sock.close()

    def _frame(self):
        first, second = struct.unpack("!II", self.pipe.read(8))
        flags, length = second >> 24, second & 0xFFFFFF
        payload = self.pipe.read(length) if length else b""
        if not first & 0x80000000:
            self._client_data(first & 0x7FFFFFFF, payload, flags & FLAG_FIN)
            return True
        kind = first & 0xFFFF
        if kind == SYN_STREAM:
            stream = struct.unpack_from("!I", payload)[0] & 0x7FFFFFFF
            self._open(stream, self._headers(payload[10:]))
        elif kind == RST_STREAM:
            sock = self.sockets.pop(struct.unpack_from("!I", payload)[0] & 0x7FFFFFFF, None)
            if sock is not None:
                sock.close()
        elif kind == PING:
            self._control(PING, payload)
        elif kind == GOAWAY:
            return False
        elif kind == HEADERS:
            self._headers(payload[4:])  # keeps the decompressor in step; nothing to do with them
        return True

    def _open(self, stream, headers):
        self._reply(stream)
        request = headers.get("requestid", "")
        if headers.get("streamtype") == "error":
            self.error_streams[request] = stream
            return
        error_stream = self.error_streams.pop(request, None)
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            port = 0
        target = listener(self.backend, self.pod, port) if 0 < port < 65536 else None
        sock = None
        if target is not None:
            try:
                sock = socket.create_connection(target, timeout=10)
                sock.settimeout(None)
            except OSError:
                sock = None
        if sock is None:
            if error_stream is not None:
                message = refused_message(self.pod, port) if port else "invalid port %r" % headers.get("port", "")
                self._data(error_stream, message.encode(), fin=True)
            self._data(stream, b"", fin=True)
            return
        self.sockets[stream] = sock
        threading.Thread(target=self._pump, args=(stream, error_stream, sock), daemon=True).start()

    def _client_data(self, stream, payload, fin):
        sock = self.sockets.get(stream)
        if sock is None:
            return
        try:
            if payload:
                sock.sendall(payload)
            if fin:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _pump(self, stream, error_stream, sock):
        """The listener's answer back to the client, then the end of both streams (kubelet closes both)."""
        try:
            while True:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    break
                self._data(stream, chunk)
        except OSError:
            pass
        finally:
            sock.close()
            self.sockets.pop(stream, None)
            self._data(stream, b"", fin=True)
            if error_stream is not None:
                self._data(error_stream, b"", fin=True)


def serve(handler, pod, backend):
    """Answer one portforward request on ``handler`` (a BaseHTTPRequestHandler) for the stored ``pod``."""
    headers = handler.headers
    upgrade = headers.get("Upgrade", "").lower()
    offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if exec_stream.wants_upgrade(headers) and WEBSOCKET_PROTOCOL in offered and headers.get("Sec-WebSocket-Key"):
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", exec_stream.accept_key(headers["Sec-WebSocket-Key"]))
        handler.send_header("Sec-WebSocket-Protocol", WEBSOCKET_PROTOCOL)
        pipe = _WebSocketPipe(handler.rfile, handler.wfile)
    elif upgrade == "spdy/3.1" and STREAM_PROTOCOL in [p.strip() for p in headers.get_all("X-Stream-Protocol-Version") or []]:
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "SPDY/3.1")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("X-Stream-Protocol-Version", STREAM_PROTOCOL)
        pipe = _RawPipe(handler.rfile, handler.wfile)
    else:
        raise ApiError(400, "BadRequest", "Upgrade request required" if not upgrade else
                       "the harness serves pods/portforward over WebSocket (%s) or SPDY/3.1 (%s); offered: %s"
                       % (WEBSOCKET_PROTOCOL, STREAM_PROTOCOL, ", ".join(offered) or headers.get("Upgrade")))
    handler.end_headers()
    handler.close_connection = True
    Session(pipe, pod, backend).run()
