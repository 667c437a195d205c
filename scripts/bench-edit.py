#!/usr/bin/env python3
"""Deterministic edits for the benchmark corpus: turns a copy of v1 into v2.

Usage: bench-edit.py DIR [--seed 42] [--new-files 200]

DIR must be a fresh copy of v1; it is edited in place. For the same v1 and seed the result is
the same, byte for byte and mtime for mtime. Regular files (not symlinks) of v1 are listed in
sorted order, shuffled with random.Random(seed) and split into disjoint groups:

  2%    bytes changed in the middle (same size)
  1%    bytes inserted at the start
  2%    bytes appended at the end
  1%    deleted
  0.5%  renamed (same directory, same content, same mtime)
  plus  --new-files new files (text and random bytes, 64 B .. 256 KiB) in existing directories
        and in a new directory "bench-added"

Edited files are rewritten as new files (a hard link twin keeps the old content) and get the
fixed mtime EDIT_TIME, so rsync's size+mtime check always sees them as changed; so do the
directories whose entries changed.
Prints a one-line summary of what was done.
"""
import argparse
import os
import random
import sys

EDIT_TIME = 1767225600  # 2026-01-01 00:00:00 UTC

WORDS = ("vault block chunk snapshot restore backup index pack hash delta version device "
         "counter manifest catalog tree file directory symlink mode owner size time record "
         "the a of and to in is that for on with as by this be are from").split()


def regular_files(root):
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.append(os.path.relpath(path, root))
    found.sort()
    return found


def directories(root):
    found = []
    for directory, dirnames, _ in os.walk(root):
        dirnames.sort()
        found.append(os.path.relpath(directory, root))
    found.sort()
    return found


def text_bytes(rng, count):
    words = []
    total = 0
    while total < count:
        word = rng.choice(WORDS)
        words.append(word)
        total += len(word) + 1
        if rng.random() < 0.08:
            words.append("\n")
    return " ".join(words).encode()[:count]


def replace_file(path, data, mtime):
    """Writes data as a new file in place of path (breaks hard links), keeps the mode."""
    mode = os.stat(path).st_mode & 0o7777
    temporary = path + ".bench-edit.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    os.utime(path, (mtime, mtime))


def edited_mtime(path):
    return EDIT_TIME if int(os.stat(path).st_mtime) != EDIT_TIME else EDIT_TIME + 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--new-files", type=int, default=200)
    args = parser.parse_args()
    root = args.dir
    rng = random.Random(args.seed)

    files = [f for f in regular_files(root) if os.path.getsize(os.path.join(root, f)) > 0]
    dirs = directories(root)
    dir_mtimes = {d: os.stat(os.path.join(root, d)).st_mtime_ns for d in dirs}
    order = list(files)
    rng.shuffle(order)
    count = len(order)

    def take(fraction, start):
        n = max(1, round(count * fraction))
        return order[start:start + n], start + n

    middle, at = take(0.02, 0)
    prepend, at = take(0.01, at)
    append, at = take(0.02, at)
    delete, at = take(0.01, at)
    rename, at = take(0.005, at)
    bytes_added = 0

    for relative in middle:
        path = os.path.join(root, relative)
        with open(path, "rb") as handle:
            data = bytearray(handle.read())
        length = min(len(data), rng.randint(1, 64))
        offset = len(data) // 2 - length // 2
        data[offset:offset + length] = rng.randbytes(length)
        replace_file(path, bytes(data), edited_mtime(path))

    for relative in prepend:
        path = os.path.join(root, relative)
        with open(path, "rb") as handle:
            data = handle.read()
        insert = rng.randbytes(rng.randint(1, 128))
        bytes_added += len(insert)
        replace_file(path, insert + data, edited_mtime(path))

    for relative in append:
        path = os.path.join(root, relative)
        with open(path, "rb") as handle:
            data = handle.read()
        extra = text_bytes(rng, rng.randint(16, 8192))
        bytes_added += len(extra)
        replace_file(path, data + extra, edited_mtime(path))

    for relative in delete:
        os.remove(os.path.join(root, relative))

    for relative in rename:
        path = os.path.join(root, relative)
        target = path + ".renamed"
        if os.path.lexists(target):
            target = path + ".renamed2"
        os.rename(path, target)

    added_dir = os.path.join(root, "bench-added")
    os.makedirs(added_dir, exist_ok=True)
    for index in range(args.new_files):
        if index % 4 == 0:
            directory = added_dir
        else:
            directory = os.path.join(root, rng.choice(dirs))
        size = int(2 ** rng.uniform(6, 18))  # 64 B .. 256 KiB, log-uniform
        data = text_bytes(rng, size) if rng.random() < 0.6 else rng.randbytes(size)
        path = os.path.join(directory, "bench-new-%04d.dat" % index)
        with open(path, "wb") as handle:
            handle.write(data)
        os.utime(path, (EDIT_TIME, EDIT_TIME))
        bytes_added += size
    # Directories whose entries changed get EDIT_TIME too, so v2 is the same on every run.
    for directory in directories(root):
        path = os.path.join(root, directory)
        if os.stat(path).st_mtime_ns != dir_mtimes.get(directory):
            os.utime(path, (EDIT_TIME, EDIT_TIME))

    print("edits of %d non-empty files: %d changed in the middle, %d prepended, %d appended, %d deleted, "
          "%d renamed, %d new files; %d bytes added"
          % (count, len(middle), len(prepend), len(append), len(delete), len(rename),
             args.new_files, bytes_added))


if __name__ == "__main__":
    sys.exit(main())
