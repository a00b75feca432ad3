"""Watches: the event stream of a list request with ``watch=true``, bookmarks and ``sendInitialEvents``."""

from __future__ import annotations

import json
import time

MAX_WATCH_SECONDS = 1800


class WatchMixin:
    """Serves watch requests for :class:`~.server.Handler`."""

    def _watch(self, rtype, namespace, params):
        api = self.api
        store = api.store
        matches = api.matcher(rtype, params.get("labelSelector", ""), params.get("fieldSelector", ""))
        deadline = time.monotonic() + min(int(params.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        namespace = namespace if rtype.namespaced else None

        def relevant(group, plural, obj):
            return (group == rtype.group and plural == rtype.plural and (namespace is None or obj["metadata"].get("namespace") == namespace)
                    and matches(obj))

        with store.lock:
            start = params.get("resourceVersion") or "0"
            pending = []
            initial = params.get("sendInitialEvents") == "true"
            if start == "0" or initial:
                pending = [("ADDED", o) for o in store.items(rtype.group, rtype.plural, namespace) if matches(o)]
                cursor = store.revision
                if initial:
                    # A watch-list client (kubectl wait, rollout status) waits for this bookmark before it trusts its cache.
                    pending.append(("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": {
                        "resourceVersion": str(cursor), "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                cursor = int(start) if start.isdigit() else store.revision
                if store.events and store.events[0][0] > cursor + 1 and len(store.events) == store.events.maxlen:
                    pending = [("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": f"too old resource version: {cursor}", "reason": "Expired", "code": 410})]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                for event, obj in pending:
                    out = api.out(rtype, obj) if event in ("ADDED", "MODIFIED", "DELETED") else obj
                    line = json.dumps({"type": event, "object": out}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if pending and pending[-1][0] == "ERROR":
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with store.lock:
                    fresh = [e for e in store.events if e[0] > cursor]
                    if not fresh:
                        store.changed.wait(timeout=min(remaining, 1.0))
                        fresh = [e for e in store.events if e[0] > cursor]
                    if fresh:
                        cursor = fresh[-1][0]
                    pending = [(event, obj) for _revision, group, plural, event, obj in fresh if relevant(group, plural, obj)]
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True
