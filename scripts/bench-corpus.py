#!/usr/bin/env python3
"""Deterministic inputs for the benchmark's binaries, bigfile and scale corpora.

  bench-corpus.py pick-binaries --bytes N [--min B] [--max B] [--shared-objects DIR]... DIR...
      prints (NUL-separated) a stable selection of large files under the DIRs, about N bytes in all
  bench-corpus.py insert SOURCE TARGET [--seed 44] [--count 8] [--min 100] [--max 500]
      writes TARGET = SOURCE with COUNT seeded insertions of MIN..MAX random bytes
  bench-corpus.py small-files DIR --files N [--seed 45] [--per-dir 1000]
      creates N files of 0..4 KiB seeded content in directories of PER_DIR files

pick-binaries: executables, shared objects and static libraries (ELF files and ar archives; no
symlinks, one path per inode) of MIN..MAX bytes under each DIR, and shared objects (*.so, *.so.*)
of that size under each --shared-objects DIR, taken in
the order of the SHA-256 of their path (a fixed shuffle that mixes sizes and directories and does
not change when an unrelated file comes or goes) while they fit in N bytes.

Each command prints a one-line summary on stderr (pick-binaries) or stdout (the others).
"""
import argparse
import hashlib
import os
import random
import sys

EDIT_TIME = 1767225600  # 2026-01-01 00:00:00 UTC, as in bench-edit.py
MIB = 1 << 20
BINARY_MAGIC = (b"\x7fELF", b"!<arch>\n")


def is_binary(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(8).startswith(BINARY_MAGIC)
    except OSError:
        return False


def candidates(root, shared_objects_only, minimum, maximum, seen):
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if shared_objects_only and not (name.endswith(".so") or ".so." in name):
                continue
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            if not minimum <= info.st_size <= maximum or not is_binary(path):
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            yield path, info.st_size


def pick_binaries(args):
    seen = set()
    found = []
    for root in args.dirs:
        found += candidates(root, False, args.min, args.max, seen)
    for root in args.shared_objects:
        found += candidates(root, True, args.min, args.max, seen)
    found.sort(key=lambda entry: hashlib.sha256(entry[0].encode()).hexdigest())
    chosen = []
    total = 0
    for path, size in found:
        if total + size <= args.bytes:
            chosen.append(path)
            total += size
    if not chosen:
        print("pick-binaries: no file of %d..%d bytes found" % (args.min, args.max), file=sys.stderr)
        return 1
    sys.stdout.write("".join(path + "\0" for path in sorted(chosen)))
    print("%d of %d candidates" % (len(chosen), len(found)), file=sys.stderr)
    return 0


def insert(args):
    rng = random.Random(args.seed)
    size = os.path.getsize(args.source)
    offsets = sorted(rng.randrange(size + 1) for _ in range(args.count))
    inserted = 0
    with open(args.source, "rb") as source, open(args.target, "wb") as target:
        position = 0
        for offset in offsets:
            while position < offset:
                piece = source.read(min(8 * MIB, offset - position))
                target.write(piece)
                position += len(piece)
            extra = rng.randbytes(rng.randint(args.min, args.max))
            target.write(extra)
            inserted += len(extra)
        while True:
            piece = source.read(8 * MIB)
            if not piece:
                break
            target.write(piece)
    os.chmod(args.target, os.stat(args.source).st_mode & 0o7777)
    os.utime(args.target, (EDIT_TIME, EDIT_TIME))
    print("%d insertions, %d bytes in all, at offsets %s" % (args.count, inserted, " ".join(map(str, offsets))))
    return 0


def small_files(args):
    """Content comes from a seeded pool (text-like words and random bytes, half and half) at seeded
    offsets, so files are distinct, partly compressible, and quick to write."""
    rng = random.Random(args.seed)
    words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(4096)]
    text = bytearray()
    while len(text) < 8 * MIB:
        text += b" ".join(rng.choices(words, k=4096)) + b"\n"
    pool = memoryview(bytes(text[:8 * MIB]) + rng.randbytes(8 * MIB))
    os.makedirs(args.dir, exist_ok=True)
    total = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(args.files):
        directory = os.path.join(args.dir, "d%04d" % (index // args.per_dir))
        if index % args.per_dir == 0:
            os.makedirs(directory, exist_ok=True)
        size = rng.randint(0, 4096)
        offset = rng.randrange(len(pool) - size)
        descriptor = os.open(os.path.join(directory, "f%04d" % (index % args.per_dir)), flags, 0o644)
        os.write(descriptor, pool[offset:offset + size])
        os.close(descriptor)
        total += size
    print("%d files in %d directories, %d bytes" % (args.files, -(-args.files // args.per_dir), total))
    return 0


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    pick = commands.add_parser("pick-binaries")
    pick.add_argument("--bytes", type=int, required=True)
    pick.add_argument("--min", type=int, default=MIB)
    pick.add_argument("--max", type=int, default=64 * MIB)
    pick.add_argument("--shared-objects", action="append", default=[])
    pick.add_argument("dirs", nargs="*")
    edit = commands.add_parser("insert")
    edit.add_argument("source")
    edit.add_argument("target")
    edit.add_argument("--seed", type=int, default=44)
    edit.add_argument("--count", type=int, default=8)
    edit.add_argument("--min", type=int, default=100)
    edit.add_argument("--max", type=int, default=500)
    tree = commands.add_parser("small-files")
    tree.add_argument("dir")
    tree.add_argument("--files", type=int, required=True)
    tree.add_argument("--seed", type=int, default=45)
    tree.add_argument("--per-dir", type=int, default=1000)
    args = parser.parse_args()
    return {"pick-binaries": pick_binaries, "insert": insert, "small-files": small_files}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
