#!/usr/bin/env python3
"""Opens N idle TCP connections to PORT on 127.0.0.1 from SOURCE (another
loopback address) and keeps them open, sending nothing, for at most HOLD
seconds (or until SIGTERM).
Prints 'open N' once its connections are made (those the server has closed
since are counted too: holding them is the client's part, not the server's).
Bounded: every connect has a deadline; loopback only."""
import resource
import select
import socket
import sys
import time

port, source, n, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
assert source.startswith("127."), "loopback only"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
socks, pending = [], []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    pending.append(s)
    socks.append(s)
# wait (bounded) until each connect finished one way or the other
deadline = time.monotonic() + 60
poller = select.poll()
byfd = {s.fileno(): s for s in pending}
for fd in byfd:
    poller.register(fd, select.POLLOUT)
while byfd and time.monotonic() < deadline:
    for fd, _ in poller.poll(1000):
        poller.unregister(fd)
        del byfd[fd]
pending = list(byfd.values())
print("open %d" % (len(socks) - len(pending)), flush=True)
time.sleep(hold)
