#!/usr/bin/env python3
"""Tree manifests for the benchmark's restore check.

  bench-tree.py manifest DIR OUT.json     records every entry under DIR
  bench-tree.py compare EXPECTED.json DIR compares DIR with a recorded manifest

An entry is its relative path, type (file, dir, symlink, other), and for a file its size and
SHA-256, for a symlink its target; mode bits and (for files) the mtime in whole seconds are
recorded too. compare prints one line: "ok ..." when paths, types, contents and symlink targets
are equal (exit 0), otherwise "MISMATCH ..." with the first few differences (exit 1). Differences
in mode or file mtime alone do not fail the check; they are counted on the same line.
"""
import hashlib
import json
import os
import stat
import sys


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def manifest(root):
    entries = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ["symlink", os.readlink(path), mode, None]
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ["dir", None, mode, None]
            elif stat.S_ISREG(info.st_mode):
                entries[relative] = ["file", "%d:%s" % (info.st_size, sha256_of(path)), mode,
                                     int(info.st_mtime)]
            else:
                entries[relative] = ["other", stat.S_IFMT(info.st_mode), mode, None]
    return entries


def compare(expected, root):
    if not os.path.isdir(root):
        return "MISMATCH restored directory %s does not exist" % root, False
    actual = manifest(root)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    different = []
    mode_differences = 0
    mtime_differences = 0
    for path in sorted(set(expected) & set(actual)):
        want, got = expected[path], actual[path]
        if want[0] != got[0] or want[1] != got[1]:
            different.append(path)
            continue
        if want[2] != got[2] and want[0] != "symlink":
            mode_differences += 1
        if want[3] is not None and want[3] != got[3]:
            mtime_differences += 1
    files = sum(1 for entry in expected.values() if entry[0] == "file")
    metadata = "%d mode and %d file mtime differences" % (mode_differences, mtime_differences)
    if not missing and not extra and not different:
        return "ok %d entries (%d files) equal; %s" % (len(expected), files, metadata), True
    parts = []
    for label, paths in (("missing", missing), ("extra", extra), ("different", different)):
        if paths:
            parts.append("%d %s (e.g. %s)" % (len(paths), label, ", ".join(paths[:3])))
    return "MISMATCH " + "; ".join(parts) + "; " + metadata, False


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("manifest", "compare"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if sys.argv[1] == "manifest":
        entries = manifest(sys.argv[2])
        with open(sys.argv[3], "w") as handle:
            json.dump(entries, handle, sort_keys=True)
        return 0
    with open(sys.argv[2]) as handle:
        expected = json.load(handle)
    line, good = compare(expected, sys.argv[3])
    print(line)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
