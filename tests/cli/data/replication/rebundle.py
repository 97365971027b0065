#!/usr/bin/env python3
"""Makes a bad bundle from a good one, for the verify and replay tests.

    rebundle.py IN.sfpack OUT.sfpack OP [ARG...]

OP is one of:
  flip-byte NAME         one byte of entry NAME changed, manifest left as it was
  append NAME TEXT       TEXT appended to entry NAME, manifest updated to match
  add NAME TEXT          a new file entry (listed in the manifest)
  symlink NAME TARGET    a symlink entry
  format N               sfpack.json's format set to N (manifest updated)
The archive is read and written with Python's tarfile and the zstd program,
never with synthflow, so the bundle is independent of the code under test.
"""
import hashlib, io, json, subprocess, sys, tarfile


def read(path):
    raw = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    tar = tarfile.open(fileobj=io.BytesIO(raw))
    return [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]


def write(path, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m, data in members:
            if data is not None:
                m.size = len(data)
                tar.addfile(m, io.BytesIO(data))
            else:
                tar.addfile(m)
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=buf.getvalue(), check=True)


def remanifest(members):
    lines = [f"{hashlib.sha256(d).hexdigest()}  {m.name}\n" for m, d in members
             if d is not None and m.name != "manifest.sha256"]
    for i, (m, d) in enumerate(members):
        if m.name == "manifest.sha256":
            members[i] = (m, "".join(lines).encode())


def main():
    src, dst, op, *args = sys.argv[1:]
    members = read(src)
    byname = {m.name: i for i, (m, _) in enumerate(members)}
    if op == "flip-byte":
        m, d = members[byname[args[0]]]
        d = bytearray(d)
        d[len(d) // 2] ^= 0x01
        members[byname[args[0]]] = (m, bytes(d))
    elif op == "append":
        m, d = members[byname[args[0]]]
        members[byname[args[0]]] = (m, d + args[1].encode())
        remanifest(members)
    elif op == "add":
        members.insert(1, (tarfile.TarInfo(args[0]), args[1].encode()))
        remanifest(members)
    elif op == "symlink":
        t = tarfile.TarInfo(args[0])
        t.type = tarfile.SYMTYPE
        t.linkname = args[1]
        members.insert(1, (t, None))
    elif op == "format":
        m, d = members[0]
        meta = json.loads(d)
        meta["format"] = int(args[0])
        members[0] = (m, json.dumps(meta).encode())
        remanifest(members)
    else:
        sys.exit(f"unknown op {op}")
    write(dst, members)


main()
