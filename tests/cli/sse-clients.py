#!/usr/bin/env python3
"""Holds N idle server-sent-event clients open against a synthflow server.

    sse-clients.py BASE_URL TOKEN N READY_FILE DONE_FILE

Opens N connections to BASE_URL/api/v1/events, waits until every one has
received the 'hello' event, writes READY_FILE, then waits until DONE_FILE
exists, counts how many clients received at least one 'event: run', prints
"connected=N got_run_event=K" and closes everything at once (the server
must notice the disconnects).
"""
import os
import selectors
import socket
import sys
import time
from urllib.parse import urlparse


def main():
    base, token, n, ready, done = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    u = urlparse(base)
    req = ("GET /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
           "Accept: text/event-stream\r\n\r\n" % (u.netloc, token)).encode()
    sel = selectors.DefaultSelector()
    bufs = {}
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    deadline = time.time() + 60
    while time.time() < deadline and sum(b"event: hello" in b for b in bufs.values()) < n:
        for key, _ in sel.select(timeout=0.5):
            chunk = key.fileobj.recv(65536)
            bufs[key.fileobj] += chunk
    hello = sum(b"event: hello" in b for b in bufs.values())
    if hello < n:
        print("only %d of %d clients got the hello event" % (hello, n))
        sys.exit(1)
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(done) and time.time() < deadline:
        for key, _ in sel.select(timeout=0.2):
            try:
                bufs[key.fileobj] += key.fileobj.recv(65536)
            except BlockingIOError:
                pass
    got = sum(b"event: run" in b for b in bufs.values())
    print("connected=%d got_run_event=%d" % (hello, got))
    for s in bufs:
        s.close()


if __name__ == "__main__":
    main()
