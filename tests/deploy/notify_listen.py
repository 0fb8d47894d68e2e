#!/usr/bin/env python3
"""notify_listen.py SOCKET OUT: a stand-in for systemd's notify socket.

Binds a Unix datagram socket at SOCKET and appends every message it receives
to OUT, one line per assignment, flushed at once, until killed. Also records
the sender's pid (SCM_CREDENTIALS) as "PID=<n>" before each message, so a test
can check that notifications come from the main process (NotifyAccess=main).
"""
import os
import socket
import struct
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
with open(out, "a", encoding="utf-8") as f:
    f.write("LISTENING\n")
    f.flush()
    while True:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        f.write("PID=%d\n" % pid)
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write(line + "\n")
        f.flush()
