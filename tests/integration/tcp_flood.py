#!/usr/bin/env python3
"""tcp_flood.py PORT SECONDS ADDRESSES PER_ADDRESS

An unauthenticated flood for test_daemon_door.sh: from each of ADDRESSES
local addresses (127.0.0.2, 127.0.0.3, ...), keep PER_ADDRESS plain TCP
connections open to 127.0.0.1:PORT that never send a byte; whenever the
server closes one, open another at once. Stops after SECONDS (bounded: the
loopback only, at most ADDRESSES * PER_ADDRESS sockets at a time). Prints
"flood connects=N closed_by_server=M" at the end.
"""
import errno
import selectors
import socket
import sys
import time

port, seconds, naddr, per = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sel = selectors.DefaultSelector()
connects = closed = 0


def open_one(src):
    global connects
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError as e:
        if e.errno not in (errno.EINPROGRESS, errno.EAGAIN):
            s.close()
            return
    connects += 1
    sel.register(s, selectors.EVENT_READ, src)


sources = ["127.0.0.%d" % (2 + i) for i in range(naddr)]
for src in sources:
    for _ in range(per):
        open_one(src)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.1):
        s, src = key.fileobj, key.data
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data:
            continue  # the server said something (an alert): keep waiting for the close
        sel.unregister(s)
        s.close()
        closed += 1
        open_one(src)
print("flood connects=%d closed_by_server=%d" % (connects, closed), flush=True)
