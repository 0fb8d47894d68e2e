#!/usr/bin/env python3
"""Write the seed corpus for tests/fuzz/fuzz_decode into tests/fuzz/corpus/.

Hand-rolled msgpack (shortest encodings, like msgpack-c's packer) so the
script needs nothing beyond python3 and, for the compressed frame, the zstd
command-line tool. Run it again after a wire format change:
    python3 tests/fuzz/make_corpus.py
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if v >= 0:
            for code, fmt, top in ((0xcc, ">B", 1 << 8), (0xcd, ">H", 1 << 16),
                                   (0xce, ">I", 1 << 32), (0xcf, ">Q", 1 << 64)):
                if v < top:
                    return bytes([code]) + struct.pack(fmt, v)
        for code, fmt, lo in ((0xd0, ">b", -(1 << 7)), (0xd1, ">h", -(1 << 15)),
                              (0xd2, ">i", -(1 << 31)), (0xd3, ">q", -(1 << 63))):
            if v >= lo:
                return bytes([code]) + struct.pack(fmt, v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        if len(v) < 256:
            return b"\xc4" + bytes([len(v)]) + v
        return b"\xc5" + struct.pack(">H", len(v)) + v
    if isinstance(v, list):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + struct.pack(">H", len(v))
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + struct.pack(">H", len(v))
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


def frame(payload, flags=0):
    return struct.pack(">IB", len(payload), flags) + payload


def zstd_frame(payload):
    with tempfile.NamedTemporaryFile() as f:
        f.write(payload)
        f.flush()
        # From a file, zstd writes the content size into the frame header.
        z = subprocess.run(["zstd", "-q", "-c", "-19", f.name], check=True,
                           stdout=subprocess.PIPE).stdout
    assert len(z) < len(payload)
    return frame(z, 1)


def h(seed):
    return bytes((seed + 7 * i) & 0xff for i in range(16))


BODY = pack({1: "632322", 2: 20250314, 3: "社会工作服务", 5: -7, 9: [1, 2, 3], 40: 1.5})


def record(seed, nparents):
    return {
        1: h(seed), 2: 3, 3: "632322", 4: 1 + nparents, 5: h(seed + 1),
        6: [[1, h(seed + 2 + i)] for i in range(nparents)],
        7: [h(seed + 9)] if nparents else [],
        8: 0x0195_0000_0000_0001, 9: "632322/zhang", 10: seed % 2 == 0, 11: 1, 12: BODY,
    }


HELLO = {0: 1, 1: 1, 2: "632322", 3: h(40), 4: 1, 5: 0x0195_1234_5678_0000, 6: 1, 7: 42,
         8: h(80), 9: 500, 10: 4}
WELCOME = {0: 2, 1: 1, 2: "630000", 3: h(90), 4: 1, 5: 0x0195_1234_5679_0000, 6: 1, 7: 0}
PUSH = {0: 3, 1: 1, 2: 17, 3: [record(1, 0), record(2, 1), record(3, 2)]}
ACK = {0: 4, 1: 1, 2: 17, 3: [[0, None], [3, "hash does not verify"], [4, None]]}
MESSAGES = {
    "hello": HELLO,
    "welcome": WELCOME,
    "push": PUSH,
    "ack": ACK,
    "pull": {0: 5, 1: 17},
    "changes": {0: 6, 1: 2, 2: 90, 3: [record(5, 1)]},
    "done": {0: 7, 1: 90},
    "error": {0: 8, 1: -6, 2: "record 632323 is out of scope"},
    "ping": {0: 9, 1: 123456789},
    "pong": {0: 10, 1: 123456789},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    for name, m in MESSAGES.items():
        files["frame-" + name] = frame(pack(m))
    files["frame-push-zstd"] = zstd_frame(pack({0: 3, 1: 2, 2: 40,
                                                3: [record(i, i % 3) for i in range(8)]}))
    files["frames-hello-push-done"] = (frame(pack(HELLO)) + frame(pack(PUSH)) +
                                       frame(pack({0: 7, 1: 17})))
    files["raw-record"] = pack(record(7, 2))
    files["raw-body"] = BODY
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), OUT))


if __name__ == "__main__":
    main()
