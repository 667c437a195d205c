#!/usr/bin/env python3
"""blockvault's fault campaign (`make faults`; docs/RELIABILITY.md).

Runs the real binary under faults and judges every trial by the same oracle:
  (a) the command succeeded, or exited non-zero with a one-line `blockvault: ...` error; no signal
      death other than the kill the trial itself injected, no hang (every run has a time limit);
  (b) every snapshot that existed before the fault restores exactly (type, mode, owner, size,
      SHA-256 of the content, symlink target, mtime of files and symlinks);
  (c) the same command run again without the fault succeeds;
  (d) `check --read-data` is clean, or (after damage) names the problem.

Sweeps: kill, io, diskfull, damage, hostile, racing, fuzz. Environment:
  FAULTS_SCALE=1          multiplies the number of trials of each sweep (0.2 for a quick look)
  FAULTS_ONLY=kill,io     runs only these sweeps
  FAULTS_FUZZ_SECONDS=60  how long each libFuzzer target runs (0 skips building and running them)
  FAULTS_BIN=path         the binary under test (default .build/release/blockvault)
  FAULTS_WORK=dir         scratch directory (default /tmp/blockvault-faults; wiped first)
  FAULTS_SEED=1           seeds every random choice, so a run can be repeated
Results: a table on stdout, every failure with the exact commands that reproduce it, the same in
.build/faults/report.md, one script per failure in .build/faults/repro/, and exit status 1 when
anything failed.

Also a few helper commands, which the reproductions use:
  faults.py mktree DIR SEED VARIANT     writes a deterministic source tree (VARIANT edits it)
  faults.py same EXPECTED ACTUAL        exit 1 naming the first difference between two trees
  faults.py flip FILE OFFSET            flips the low bit of one byte
  faults.py wal DB OUT                  writes a WAL for a copy of DB (a stale or foreign WAL)
  faults.py peer SCENARIO REPLICA BIN   plays a (hostile) master against `BIN serve --stdio`
"""
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELF = os.path.abspath(__file__)
BIN = os.path.abspath(os.environ.get("FAULTS_BIN", os.path.join(ROOT, ".build/release/blockvault")))
SCALE = float(os.environ.get("FAULTS_SCALE", "1"))
ONLY = [s for s in os.environ.get("FAULTS_ONLY", "").split(",") if s]
FUZZ_SECONDS = int(os.environ.get("FAULTS_FUZZ_SECONDS", "60"))
WORK = os.path.abspath(os.environ.get("FAULTS_WORK", "/tmp/blockvault-faults"))
SEED = int(os.environ.get("FAULTS_SEED", "1"))
OUT = os.path.join(ROOT, ".build/faults")
TIMEOUT = 60
ENV = dict(os.environ, SWIFT_BACKTRACE="enable=no", LC_ALL="C")
ENV.pop("BLOCKVAULT_REPO", None)


def scaled(n):
    return max(1, int(round(n * SCALE)))


# ---------------------------------------------------------------- source trees

def tree_entries(seed, variant):
    """The deterministic content of source tree (seed, variant): {path: (kind, data, mode, mtime)}."""
    rng = random.Random(seed * 1000)
    entries = {}
    for i in range(48):
        folder = ["", "docs/", "docs/old/", "img/", "src/deep/er/"][i % 5]
        roll = rng.random()
        size = rng.randrange(300 << 10, 1200 << 10) if roll < 0.12 else rng.randrange(0, 48 << 10)
        if i % 3 == 0:
            words = [b"alpha", b"beta", b"gamma", b"delta", b"omega", b"\n"]
            data = b" ".join(rng.choice(words) for _ in range(size // 6 + 1))[:size]
        else:
            data = rng.randbytes(size)
        mode = [0o644, 0o600, 0o755, 0o640][i % 4]
        entries[f"{folder}f{i:02d}.dat"] = ("file", data, mode, 1_700_000_000 + i * 7)
    entries["empty.txt"] = ("file", b"", 0o644, 1_700_000_500)
    entries["link"] = ("symlink", b"docs", 0o777, 1_700_000_600)
    entries["docs/rel"] = ("symlink", b"../f00.dat", 0o777, 1_700_000_601)
    entries["emptydir"] = ("dir", b"", 0o750, 0)
    for v in range(2, variant + 1):
        vr = random.Random(seed * 1000 + v)
        for path in sorted(p for p, e in entries.items() if e[0] == "file"):
            kind, data, mode, mtime = entries[path]
            roll = vr.random()
            if roll < 0.15 and data:
                at = vr.randrange(len(data))
                data = data[:at] + vr.randbytes(vr.randrange(1, 4096)) + data[at + 1:]
            elif roll < 0.25:
                data = data + vr.randbytes(vr.randrange(1, 70 << 10))
            elif roll < 0.30:
                del entries[path]
                continue
            else:
                continue
            entries[path] = (kind, data, mode, 1_700_100_000 + v * 1000 + vr.randrange(999))
        for k in range(4):
            entries[f"new/v{v}_{k}.dat"] = ("file", vr.randbytes(vr.randrange(1, 200 << 10)), 0o644, 1_700_200_000 + v * 100 + k)
    return entries


def mktree(directory, seed, variant):
    """Makes `directory` hold exactly tree (seed, variant), touching only what differs."""
    entries = tree_entries(seed, variant)
    os.makedirs(directory, exist_ok=True)
    wanted_dirs = set()
    for path, entry in entries.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            wanted_dirs.add("/".join(parts[:i]))
        if entry[0] == "dir":
            wanted_dirs.add(path)
    for base, dirs, files in os.walk(directory, topdown=False):
        for name in files + dirs:
            full = os.path.join(base, name)
            rel = os.path.relpath(full, directory)
            if os.path.islink(full) or not os.path.isdir(full):
                if rel not in entries or entries[rel][0] == "dir":
                    os.unlink(full)
            elif rel not in wanted_dirs:
                shutil.rmtree(full)
    for d in sorted(wanted_dirs):
        os.makedirs(os.path.join(directory, d), exist_ok=True)
    for path, (kind, data, mode, mtime) in sorted(entries.items()):
        full = os.path.join(directory, path)
        if kind == "file":
            current = None
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    current = f.read()
            if current != data:
                with open(full, "wb") as f:
                    f.write(data)
            os.chmod(full, mode)
            os.utime(full, ns=(mtime * 10**9, mtime * 10**9))
        elif kind == "symlink":
            if os.path.islink(full) and os.readlink(full) == data.decode():
                continue
            if os.path.lexists(full):
                os.unlink(full)
            os.symlink(data.decode(), full)
            os.utime(full, ns=(mtime * 10**9, mtime * 10**9), follow_symlinks=False)
        elif kind == "dir":
            os.chmod(full, mode)


# ---------------------------------------------------------------- tree comparison

def manifest(directory):
    """What a restore must reproduce exactly, per relative path."""
    result = {}
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(base, name)
            rel = os.path.relpath(full, directory)
            st = os.lstat(full)
            item = {"mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    item.update(type="file", size=st.st_size, sha256=hashlib.sha256(f.read()).hexdigest(), mtime=st.st_mtime_ns)
            elif stat.S_ISLNK(st.st_mode):
                item = {"type": "symlink", "target": os.readlink(full), "mtime": st.st_mtime_ns}
            elif stat.S_ISDIR(st.st_mode):
                item["type"] = "dir"
            elif stat.S_ISFIFO(st.st_mode):
                item["type"] = "fifo"
            else:
                item["type"] = "other"
            result[rel] = item
    return result


def first_difference(expected, actual):
    """None when the trees agree, else a line naming the first difference."""
    a, b = manifest(expected), manifest(actual)
    for path in sorted(set(a) | set(b)):
        if path not in b:
            return f"{path} is missing"
        if path not in a:
            return f"{path} should not be there"
        if a[path] != b[path]:
            diff = {k: (a[path].get(k), b[path].get(k)) for k in set(a[path]) | set(b[path]) if a[path].get(k) != b[path].get(k)}
            return f"{path} differs: " + ", ".join(f"{k} {x} != {y}" for k, (x, y) in sorted(diff.items()))
    return None


# ---------------------------------------------------------------- running commands

class Result:
    def __init__(self, rc, out, err, hung, injected):
        self.rc, self.out, self.err, self.hung, self.injected = rc, out, err, hung, injected

    def describe(self):
        if self.hung:
            return f"hung (killed after {TIMEOUT} s)"
        if self.rc < 0:
            return f"died of signal {-self.rc} ({signal.Signals(-self.rc).name})"
        tail = self.err.strip().splitlines()[-3:]
        return f"exit {self.rc}" + (f", stderr: {' | '.join(tail)}" if tail else "")


def run_process(argv, timeout=TIMEOUT, stdin_data=None, kill_after=None, cwd=None, env=None):
    """Runs argv in its own process group; returns (rc, out, err, hung)."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or ENV, start_new_session=True, cwd=cwd)
    timer = None
    if kill_after is not None:
        timer = threading.Timer(kill_after, lambda: _kill_leader(process))
        timer.start()
    hung = False
    try:
        out, err = process.communicate(stdin_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    finally:
        if timer:
            timer.cancel()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftovers (a serve whose push died) must not outlive the trial
    except ProcessLookupError:
        pass
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace"), hung


def _kill_leader(process):
    try:
        process.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass


class Trial:
    """One fault trial: every command it runs is recorded, so a failure comes with its reproduction."""

    def __init__(self, sweep, command, fault, directory, setup):
        self.sweep, self.command, self.fault, self.dir = sweep, command, fault, directory
        self.repro = list(setup)
        self.problems = []
        self.landed = True  # whether the fault took effect (an injected call, our kill)
        self.strace_log = os.path.join(directory, "strace.log")

    def note(self, line):
        self.repro.append(line)

    def problem(self, text):
        self.problems.append(text)

    def bv(self, args, fault=None, timeout=TIMEOUT, kill_after=None, stdin_data=None):
        argv = [BIN] + args
        prefix = []
        if fault:
            syscalls, action, when = fault[:3]
            prefix = ["strace", "-f", "-y", "-qq", "-o", self.strace_log, "-e", f"trace={syscalls}",
                      "-e", f"inject={syscalls}:{action}:when={when}"]
            for path in (fault[3] if len(fault) > 3 else []):
                prefix += ["-P", path]
        shown = shlex.join(prefix + argv)
        if kill_after is not None:
            shown = f"timeout -s KILL {kill_after:.3f} {shown}"
        self.note(shown)
        rc, out, err, hung = run_process(prefix + argv, timeout=timeout, kill_after=kill_after, stdin_data=stdin_data)
        err = "".join(l for l in err.splitlines(True) if not l.startswith("strace: "))
        injected = []
        if fault and os.path.exists(self.strace_log):
            with open(self.strace_log, errors="replace") as f:
                injected = [line.strip() for line in f if "(INJECTED)" in line or "killed by SIGKILL" in line]
            os.unlink(self.strace_log)
        return Result(rc, out, err, hung, injected)

    # -- the oracle, piece by piece

    def expect_outcome(self, what, result, ok=(0, 1), killed=False, stderr_faulted=False):
        """(a): a known exit status, a one-line error on failure, no signal but our kill, no hang."""
        if result.hung:
            self.problem(f"{what}: {result.describe()}")
            return False
        if result.rc < 0:
            if killed and result.rc == -signal.SIGKILL:
                return True
            self.problem(f"{what}: {result.describe()}")
            return False
        if result.rc not in ok:
            self.problem(f"{what}: exit {result.rc}, expected one of {ok}: {result.describe()}")
            return False
        for marker in ("Fatal error", "Current stack trace", "Crash", "💣"):
            if marker in result.err:
                self.problem(f"{what}: crash report on stderr: {result.describe()}")
                return False
        if result.rc == 1 and not stderr_faulted:
            lines = [l for l in result.err.splitlines() if l.strip()]
            if what.startswith("push"):
                # push's stderr is also that of the serve it starts: the serve's summary line
                # ("blockvault serve: received ...") or its error line may come before push's own
                lines = [l for l in lines if not l.startswith("blockvault serve: ")][-2:] if len(lines) <= 3 else lines
            allowed = 2 if what.startswith("push") else 1
            if not 1 <= len(lines) <= allowed or not all(l.startswith("blockvault: ") for l in lines):
                self.problem(f"{what}: exit 1 without a one-line 'blockvault: ' error: {lines[:4]}")
                return False
        return True

    def expect_success(self, what, result, ok=(0,)):
        if result.hung or result.rc not in ok:
            self.problem(f"{what}: {result.describe()}")
            return False
        return True

    def snapshots(self, repo):
        result = self.bv(["snapshots", "--repo", repo, "--json"])
        if result.rc != 0 or result.hung:
            self.problem(f"snapshots: {result.describe()}")
            return None
        try:
            return [s["id"] for s in json.loads(result.out)]
        except ValueError:
            self.problem(f"snapshots --json printed no JSON: {result.out[:200]}")
            return None

    def restore_exact(self, repo, snapshot, expected, label, must=True):
        """Restores `snapshot` into a fresh target; True when it exited 0 and is exact. A restore
        that exits 0 with a wrong tree is always a failure; one that fails is one when `must`."""
        target = os.path.join(self.dir, f"restore-{len(self.repro)}")
        result = self.bv(["restore", "--repo", repo, "--target", target, snapshot])
        self.note(f"python3 {SELF} same {shlex.quote(expected)} {shlex.quote(target)}")
        if not self.expect_outcome(f"restore {label}", result):
            return False
        if result.rc != 0:
            if must:
                self.problem(f"restore {label} ({snapshot}) failed: {result.describe()}")
            return False
        difference = first_difference(expected, target)
        shutil.rmtree(target, ignore_errors=True)
        if difference:
            self.problem(f"restore {label} ({snapshot}) exited 0 but {difference}")
            return False
        return True

    def check(self, repo, label="check", names=None):
        """(d): clean (names None), or exit 1 naming one of `names` (any word, e.g. a pack's name)."""
        result = self.bv(["check", "--repo", repo, "--read-data"])
        if not self.expect_outcome(label, result, stderr_faulted=True):
            return result
        text = result.out + result.err
        if names is None and result.rc != 0:
            self.problem(f"{label} is not clean: {text.strip().splitlines()[:3]}")
        elif names is not None and result.rc == 0:
            self.problem(f"{label} is clean after damage to {names[0]}")
        elif names is not None and not any(n in text for n in names):
            self.problem(f"{label} does not name {names[0]}: {text.strip().splitlines()[:3]}")
        return result


def relevant_injections(lines):
    """Injected calls on our own files (vault, source, target), not on the loader, /proc or stderr."""
    return [l for l in lines if "(INJECTED)" in l and WORK in l and not re.search(r"^\d+ +\w+\((1|2)<", l)]


def stderr_hit(lines):
    return any(re.search(r"\((2|1)<", line) for line in lines)


# ---------------------------------------------------------------- fixtures

class Fixture:
    """A vault state built once by recorded commands; trials work on copies of its vault."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(WORK, "fixtures", name)
        self.repro = []
        self.expected = {}  # snapshot id -> directory holding the tree it must restore to

    def run(self, argv):
        self.repro.append(shlex.join(argv))
        rc, out, err, hung = run_process(argv, timeout=300)
        if rc != 0:
            raise SystemExit(f"fixture {self.name}: {shlex.join(argv)} failed ({rc}): {err.strip()}")
        return out

    def tree(self, path, seed, variant):
        self.repro.append(f"python3 {SELF} mktree {shlex.quote(path)} {seed} {variant}")
        mktree(path, seed, variant)

    def copy(self, source, target):
        self.run(["cp", "-a", source, target])


def base_fixture():
    """Three snapshots of src (variants 1..3), src left at variant 4; exp/N are copies of each state."""
    f = Fixture("base")
    os.makedirs(f.dir)
    src, repo = os.path.join(f.dir, "src"), os.path.join(f.dir, "vault")
    f.run([BIN, "init", "--repo", repo])
    for variant in (1, 2, 3):
        f.tree(src, 7, variant)
        snapshot = json.loads(f.run([BIN, "backup", "--repo", repo, src, "--json"]))["snapshot"]
        f.copy(src, os.path.join(f.dir, f"exp{variant}"))
        if variant == 1:
            f.run(["python3", SELF, "catcopy", os.path.join(repo, "catalog.db"), os.path.join(f.dir, "catalog-after-1.db")])
        f.expected[snapshot] = os.path.join(f.dir, f"exp{variant}")
    f.tree(src, 7, 4)
    f.copy(src, os.path.join(f.dir, "exp4"))
    f.src, f.repo = src, repo
    return f


def derived_fixture(base, name, commands):
    """A copy of base's vault (and a replica, if asked) with extra commands run on it."""
    f = Fixture(name)
    os.makedirs(f.dir)
    f.repro = list(base.repro)
    f.expected = dict(base.expected)
    f.src, f.repo = base.src, os.path.join(f.dir, "vault")
    f.copy(base.repo, f.repo)
    for argv in commands(f):
        f.run(argv)
    return f


# ---------------------------------------------------------------- results

RESULTS = {}   # (sweep, command, fault) -> [tried, passed, failed, skipped, landed]
FAILURES = []  # (sweep, command, fault, problems, repro)


def record(trial, skipped=False):
    row = RESULTS.setdefault((trial.sweep, trial.command, trial.fault), [0, 0, 0, 0, 0])
    if skipped:
        row[3] += 1
        return
    row[0] += 1
    row[4] += 1 if trial.landed else 0
    if trial.problems:
        row[2] += 1
        FAILURES.append((trial.sweep, trial.command, trial.fault, list(trial.problems), list(trial.repro)))
        print(f"  FAIL {trial.sweep}/{trial.command}/{trial.fault}: {trial.problems[0]}", flush=True)
    else:
        row[1] += 1


TRIAL_COUNTER = [0]
HARNESS_ERRORS = []


def new_trial(sweep, command, fault, fixture):
    TRIAL_COUNTER[0] += 1
    directory = os.path.join(WORK, "t", f"{TRIAL_COUNTER[0]:05d}")
    os.makedirs(directory)
    setup = list(fixture.repro) if fixture else []
    setup.append(f"mkdir -p {shlex.quote(directory)}")
    return Trial(sweep, command, fault, directory, setup)


def finish(trial, skipped=False):
    record(trial, skipped)
    if not trial.problems:
        shutil.rmtree(trial.dir, ignore_errors=True)


def copy_vault(trial, fixture, name="vault"):
    target = os.path.join(trial.dir, name)
    trial.note(shlex.join(["cp", "-a", fixture.repo, target]))
    shutil.copytree(fixture.repo, target, symlinks=True)
    return target


# ---------------------------------------------------------------- kill -9 and I/O error sweeps

class Scenario:
    """One command under test: how to set it up on a fixture, run it, and judge what it left."""

    def __init__(self, name, fixture, args, after):
        self.name, self.fixture, self.args, self.after = name, fixture, args, after


def scenarios(base, forgotten, lost, pushable, forgot_pushed):
    def backup_args(t, repo):
        return ["backup", "--repo", repo, base.src]

    def backup_after(t, repo, result):
        # the new snapshot, when there is one, must be variant 4; every earlier one must be intact
        for snapshot, expected in base.expected.items():
            t.restore_exact(repo, snapshot, expected, "earlier snapshot")
        rerun = t.bv(["backup", "--repo", repo, base.src, "--json"])
        if t.expect_success("backup without the fault", rerun, ok=(0,)):
            t.restore_exact(repo, json.loads(rerun.out)["snapshot"], os.path.join(base.dir, "exp4"), "new snapshot")
        t.check(repo)

    def restore_args(t, repo):
        t.target = os.path.join(t.dir, "target")
        return ["restore", "--repo", repo, "--target", t.target, "latest"]

    def restore_after(t, repo, result):
        if result.rc == 0:
            difference = first_difference(os.path.join(base.dir, "exp3"), t.target)
            if difference:
                t.problem(f"restore exited 0 but {difference}")
        for snapshot, expected in base.expected.items():
            t.restore_exact(repo, snapshot, expected, "snapshot")
        t.check(repo)

    def forget_args(t, repo):
        return ["forget", "--repo", repo, "--keep-last", "1", "--prune"]

    def forget_after(t, repo, result):
        rerun = t.bv(["forget", "--repo", repo, "--keep-last", "1", "--prune"])
        t.expect_success("forget without the fault", rerun)
        listed = t.snapshots(repo)
        if listed is not None:
            latest = list(base.expected)[-1]
            if latest not in listed:
                t.problem(f"the kept snapshot {latest} is gone")
            for snapshot in listed:
                if snapshot in base.expected:
                    t.restore_exact(repo, snapshot, base.expected[snapshot], "kept snapshot")
                else:
                    t.problem(f"snapshot {snapshot} appeared from nowhere")
        t.check(repo)

    def prune_args(t, repo):
        return ["prune", "--repo", repo, "--max-unused", "0"]

    def prune_after(t, repo, result):
        rerun = t.bv(["prune", "--repo", repo, "--max-unused", "0"])
        t.expect_success("prune without the fault", rerun)
        latest = list(base.expected)[-1]
        t.restore_exact(repo, latest, base.expected[latest], "kept snapshot")
        t.check(repo)

    def repair_args(t, repo):
        return ["repair", "--repo", repo, "--apply"]

    def repair_after(t, repo, result):
        rerun = t.bv(["repair", "--repo", repo, "--apply"])
        t.expect_success("repair --apply without the fault", rerun)
        for snapshot, expected in base.expected.items():
            t.restore_exact(repo, snapshot, expected, "rebuilt snapshot")
        t.check(repo)

    def push_args(t, repo):
        t.replica = os.path.join(t.dir, "replica")
        t.note(shlex.join(["cp", "-a", os.path.join(pushable.dir, "replica"), t.replica]))
        shutil.copytree(os.path.join(pushable.dir, "replica"), t.replica, symlinks=True)
        return ["push", "--repo", repo, "--to", t.replica]

    def push_after(t, repo, result):
        for snapshot, expected in base.expected.items():
            t.restore_exact(repo, snapshot, expected, "master snapshot")
        rerun = t.bv(["push", "--repo", repo, "--to", t.replica])
        if t.expect_success("push without the fault", rerun):
            for snapshot, expected in base.expected.items():
                t.restore_exact(t.replica, snapshot, expected, "replica snapshot")
        t.check(t.replica, "check of the replica")
        t.check(repo)

    def push_forgotten_args(t, repo):
        t.replica = os.path.join(t.dir, "replica")
        t.note(shlex.join(["cp", "-a", os.path.join(forgot_pushed.dir, "replica"), t.replica]))
        shutil.copytree(os.path.join(forgot_pushed.dir, "replica"), t.replica, symlinks=True)
        return ["push", "--repo", repo, "--to", t.replica]

    def push_forgotten_after(t, repo, result):
        rerun = t.bv(["push", "--repo", repo, "--to", t.replica])
        t.expect_success("push without the fault", rerun)
        # A replica is a backup target with retention of its own: the master's forget does not reach
        # it. It must hold every snapshot the master lists, and each snapshot it lists restores exactly.
        master, replica = t.snapshots(repo), t.snapshots(t.replica)
        if master is not None and replica is not None:
            missing = sorted(set(master) - set(replica))
            if missing:
                t.problem(f"after the push the replica lacks the master's snapshots {missing}")
            for snapshot in replica:
                if snapshot in base.expected:
                    t.restore_exact(t.replica, snapshot, base.expected[snapshot], "replica snapshot")
                else:
                    t.problem(f"snapshot {snapshot} appeared on the replica from nowhere")
        t.check(t.replica, "check of the replica")

    return [
        Scenario("backup", base, backup_args, backup_after),
        Scenario("restore", base, restore_args, restore_after),
        Scenario("forget --prune", base, forget_args, forget_after),
        Scenario("prune", forgotten, prune_args, prune_after),
        Scenario("repair --apply", lost, repair_args, repair_after),
        Scenario("push", pushable, push_args, push_after),
        Scenario("push after forget", forgot_pushed, push_forgotten_args, push_forgotten_after),
    ]


def call_positions(scenario, syscalls):
    """In a clean run, the N (per thread, as strace's when=N counts) at which some thread makes one of
    `syscalls` on our own files: the values of N worth sweeping."""
    t = new_trial("probe", scenario.name, syscalls, scenario.fixture)
    repo = copy_vault(t, scenario.fixture)
    args = scenario.args(t, repo)
    log = os.path.join(t.dir, "count.log")
    paths = [a for p in read_paths(t, syscalls) for a in ("-P", p)]
    run_process(["strace", "-f", "-y", "-qq", "-o", log, "-e", f"trace={syscalls}"] + paths + [BIN] + args)
    per_thread, positions = {}, set()
    with open(log, errors="replace") as f:
        for line in f:
            if not re.match(r"^\d+ +\w+\(", line):
                continue  # a "<... resumed>" half or an exit line: not a new call
            pid = line.split(None, 1)[0]
            per_thread[pid] = per_thread.get(pid, 0) + 1
            # ours: a descriptor of (or a path under) the work directory; never stdout or stderr,
            # whose messages may name such paths
            if WORK in line and not re.match(r"^\d+ +\w+\((1|2)<", line):
                positions.add(per_thread[pid])
    shutil.rmtree(t.dir, ignore_errors=True)
    return sorted(positions)


def read_paths(t, syscalls):
    """For reads: every file the command may read (the trial's vaults and the source), so that strace
    counts and fails only those (-P), never the dynamic loader's reads of shared libraries."""
    if "read" not in syscalls:
        return []
    paths = []
    for top in (t.dir, os.path.join(WORK, "fixtures", "base", "src")):
        for base, _, files in os.walk(top):
            paths += [os.path.join(base, n) for n in files
                      if n not in ("strace.log", "count.log") and not os.path.islink(os.path.join(base, n))]
    for vault in ("vault", "replica"):
        paths += [os.path.join(t.dir, vault, "catalog.db" + s) for s in ("-wal", "-shm")]
    return sorted(set(paths))


def sample_points(positions, count, rng):
    """`count` of `positions`: the first, the last, and a random choice of the rest."""
    if len(positions) <= count:
        return list(positions)
    points = {positions[0], positions[-1]}
    while len(points) < count:
        points.add(rng.choice(positions))
    return sorted(points)


def fault_trial(sweep, scenario, syscalls, action, when, label):
    t = new_trial(sweep, scenario.name, label, scenario.fixture)
    repo = copy_vault(t, scenario.fixture)
    args = scenario.args(t, repo)
    result = t.bv(args, fault=(syscalls, action, when, read_paths(t, syscalls)))
    killed = "signal=KILL" in action
    if not killed:
        ours = relevant_injections(result.injected)
        if not ours:
            if result.injected or result.rc == 0:
                finish(t, skipped=True)  # the fault missed our files (or was never reached)
                return
    t.landed = bool(result.injected) or result.rc == -signal.SIGKILL
    faulted_stderr = stderr_hit(result.injected)
    ok = (0, 1, 3) if scenario.name == "backup" else (0, 1)
    if "EINTR" in action:
        # an interrupted call must be retried: the command must simply succeed
        t.expect_success(f"{scenario.name} with EINTR", result, ok=(0,))
    else:
        t.expect_outcome(scenario.name, result, ok=ok, killed=killed, stderr_faulted=faulted_stderr)
    scenario.after(t, repo, result)
    finish(t)


def kill_sweep(scens, rng):
    groups = [("write,pwrite64", "write"), ("fsync,fdatasync", "fsync"), ("rename,renameat,renameat2", "rename")]
    for scenario in scens:
        if scenario.name == "restore":
            continue
        for syscalls, label in groups:
            for n in sample_points(call_positions(scenario, syscalls), scaled(6), rng):
                fault_trial("kill", scenario, syscalls, "signal=KILL", str(n), f"kill -9 at {label} #N")
        # random moments: a kill somewhere in the first 1.2x of a clean run's duration
        t = new_trial("probe", scenario.name, "time", scenario.fixture)
        repo = copy_vault(t, scenario.fixture)
        started = time.monotonic()
        run_process([BIN] + scenario.args(t, repo))
        duration = time.monotonic() - started
        shutil.rmtree(t.dir, ignore_errors=True)
        for _ in range(scaled(5)):
            t = new_trial("kill", scenario.name, "kill -9 at a random moment", scenario.fixture)
            repo = copy_vault(t, scenario.fixture)
            args = scenario.args(t, repo)
            result = t.bv(args, kill_after=rng.uniform(0.005, max(0.02, duration * 1.2)))
            t.landed = result.rc == -signal.SIGKILL
            ok = (0, 1, 3) if scenario.name == "backup" else (0, 1)
            t.expect_outcome(scenario.name, result, ok=ok, killed=True)
            scenario.after(t, repo, result)
            finish(t)


def io_sweep(scens, rng):
    faults = [("read,pread64", "error=EIO", "EIO on read"),
              ("fsync,fdatasync", "error=EIO", "EIO on fsync"),
              ("write,pwrite64", "error=ENOSPC", "ENOSPC on write"),
              ("read,pread64", "error=EINTR", "EINTR on read"),
              ("write,pwrite64", "error=EINTR", "EINTR on write")]
    for scenario in scens:
        if scenario.name not in ("backup", "restore", "prune", "push"):
            continue
        for syscalls, action, label in faults:
            positions = call_positions(scenario, syscalls)
            for n in sample_points(positions, scaled(5), rng):
                fault_trial("io", scenario, syscalls, action, str(n), label)
            if "EINTR" not in action and positions:
                # a disk that stays broken from some call on
                fault_trial("io", scenario, syscalls, action, f"{positions[len(positions) // 2]}+", label + " (persistent)")


# ---------------------------------------------------------------- a really full disk

def tmpfs(trial, path, size):
    os.makedirs(path, exist_ok=True)
    for argv in (["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],):
        trial.note(shlex.join(argv))
        rc, out, err, hung = run_process(argv)
        if rc != 0:
            raise SystemExit(f"cannot mount a tmpfs ({err.strip()}); the diskfull sweep needs root")


def remount(trial, path, size):
    argv = ["mount", "-o", f"remount,size={size}", path]
    trial.note(shlex.join(argv))
    run_process(argv)


def umount(path):
    run_process(["umount", "-l", path])


def diskfull_sweep(base, rng):
    big = os.path.join(WORK, "fixtures", "big")
    if not os.path.exists(big):
        os.makedirs(big)
        r = random.Random(99)
        for i in range(5):
            with open(os.path.join(big, f"big{i}.bin"), "wb") as f:
                f.write(r.randbytes(3 << 20))
    big_setup = [f"mkdir -p {big}", f"# {big}: five files of 3 MiB of random bytes (python3 random.Random(99).randbytes)"]
    free_sizes = [0, 16 << 10, 128 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 6 << 20]
    for free in free_sizes[:max(2, scaled(len(free_sizes)))]:
        t = new_trial("diskfull", "backup", "vault on a full tmpfs", None)
        t.repro[:0] = base.repro + big_setup
        mnt = os.path.join(t.dir, "mnt")
        tmpfs(t, mnt, "8m")
        try:
            repo = os.path.join(mnt, "vault")
            t.expect_success("init", t.bv(["init", "--repo", repo]))
            first = t.bv(["backup", "--repo", repo, os.path.join(base.dir, "exp1"), "--json"])
            if not t.expect_success("first backup", first):
                finish(t)
                continue
            snapshot = json.loads(first.out)["snapshot"]
            st = os.statvfs(mnt)
            filler = max(4096, st.f_bavail * st.f_frsize - free)
            t.note(f"fallocate -l {filler} {mnt}/filler")
            if run_process(["fallocate", "-l", str(filler), os.path.join(mnt, "filler")])[0] != 0:
                t.note(f"fallocate -l {filler - (64 << 10)} {mnt}/filler")
                run_process(["fallocate", "-l", str(filler - (64 << 10)), os.path.join(mnt, "filler")])
            result = t.bv(["backup", "--repo", repo, big])
            t.expect_outcome("backup onto a full disk", result, ok=(0, 1, 3))
            t.restore_exact(repo, snapshot, os.path.join(base.dir, "exp1"), "earlier snapshot, disk still full")
            t.check(repo, "check, disk still full")
            remount(t, mnt, "64m")
            t.note(f"rm -f {mnt}/filler")
            if os.path.exists(os.path.join(mnt, "filler")):
                os.unlink(os.path.join(mnt, "filler"))
            rerun = t.bv(["backup", "--repo", repo, big, "--json"])
            if t.expect_success("backup with space again", rerun):
                t.restore_exact(repo, json.loads(rerun.out)["snapshot"], big, "new snapshot")
            t.check(repo)
        finally:
            umount(mnt)
        finish(t)
    for size in ["4m", "10m"][:max(1, scaled(2))]:
        t = new_trial("diskfull", "restore", "target on a full tmpfs", None)
        t.repro[:0] = base.repro + big_setup
        repo = os.path.join(t.dir, "vault")
        t.expect_success("init", t.bv(["init", "--repo", repo]))
        backup = t.bv(["backup", "--repo", repo, big, "--json"])
        if not t.expect_success("backup", backup):
            finish(t)
            continue
        snapshot = json.loads(backup.out)["snapshot"]
        mnt = os.path.join(t.dir, "mnt")
        tmpfs(t, mnt, size)
        try:
            target = os.path.join(mnt, "target")
            result = t.bv(["restore", "--repo", repo, "--target", target, snapshot])
            t.expect_outcome("restore onto a full disk", result)
            if result.rc == 0:
                t.problem(f"restore of 15 MiB into a {size} tmpfs exited 0")
            remount(t, mnt, "64m")
            t.restore_exact(repo, snapshot, big, "snapshot, with space again")
            again = t.bv(["restore", "--repo", repo, "--target", target, "--overwrite", snapshot])
            if t.expect_success("restore --overwrite over the partial target", again):
                t.note(f"python3 {SELF} same {big} {target}")
                difference = first_difference(big, target)
                if difference:
                    t.problem(f"restore --overwrite over a partial target exited 0 but {difference}")
            t.check(repo)
        finally:
            umount(mnt)
        finish(t)


# ---------------------------------------------------------------- damage

def pack_layout(path):
    """(kind, footer start, size) of a pack file, from its trailer."""
    with open(path, "rb") as f:
        data = f.read()
    footer_length, = struct.unpack("<I", data[-16:-12])
    start = len(data) - 48 - footer_length
    return data[start], start, len(data)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 1]))


def write_wal(database, out):
    """A WAL holding the whole of `database` (VACUUM in WAL mode writes every page to the WAL)."""
    copy = out + ".db"
    source = sqlite3.connect(database)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA wal_autocheckpoint=0")
    target.execute("VACUUM")
    shutil.copyfile(copy + "-wal", out)
    target.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.unlink(copy + suffix)


def packs(repo):
    result = []
    for base, _, files in os.walk(os.path.join(repo, "packs")):
        for name in files:
            if name.endswith(".pack"):
                path = os.path.join(base, name)
                result.append((pack_layout(path)[0], os.path.getsize(path), path))
    return sorted(result)


def damage_fixture(base):
    """base, plus catalog copies for the WAL cases: cat2.db (this vault after its second snapshot,
    by SQLite's backup API) and foreign.db (another vault's catalog)."""
    f = Fixture("damage")
    os.makedirs(f.dir)
    f.repro = list(base.repro)
    f.expected = dict(base.expected)
    f.src, f.repo = base.src, base.repo
    foreign = os.path.join(f.dir, "foreign")
    f.run([BIN, "init", "--repo", foreign])
    f.run([BIN, "backup", "--repo", foreign, os.path.join(base.dir, "exp1")])
    return f


def damage_cases(fixture, rng):
    data = [p for k, s, p in packs(fixture.repo) if k == 0]
    meta = [p for k, s, p in packs(fixture.repo) if k == 1]
    big = max(data, key=os.path.getsize)
    cases = []
    kind, start, size = pack_layout(big)
    for _ in range(scaled(4)):
        cases.append(("bit flip in a data pack's blocks", big, ("flip", rng.randrange(8, start))))
    for _ in range(scaled(2)):
        cases.append(("bit flip in a data pack's footer", big, ("flip", rng.randrange(start, size - 48))))
    cases.append(("bit flip in a data pack's trailer", big, ("flip", rng.randrange(size - 48, size - 8))))
    m = meta[-1]
    mk, ms, msize = pack_layout(m)
    cases.append(("bit flip in a metadata pack's records", m, ("flip", rng.randrange(8, ms))))
    cases.append(("bit flip in a metadata pack's footer", m, ("flip", rng.randrange(ms, msize - 48))))
    cases.append(("truncated data pack (last byte)", big, ("truncate", size - 1)))
    cases.append(("truncated data pack (half)", big, ("truncate", size // 2)))
    cases.append(("deleted data pack", big, ("delete", None)))
    cases.append(("deleted metadata pack", m, ("delete", None)))
    cases.append(("deleted catalog.db", "catalog", ("delete-catalog", None)))
    cases.append(("catalog.db with a damaged page", "catalog", ("catalog-page", None)))
    cases.append(("catalog.db truncated", "catalog", ("catalog-truncate", None)))
    cases.append(("stale WAL (this vault's catalog after snapshot 1)", "catalog", ("stale-wal", None)))
    cases.append(("foreign WAL (another vault's catalog)", "catalog", ("foreign-wal", None)))
    return cases


def apply_damage(t, repo, fixture, target, action):
    verb, arg = action
    catalog = os.path.join(repo, "catalog.db")
    if target != "catalog":
        target = os.path.join(repo, os.path.relpath(target, fixture.repo))
    if verb == "flip":
        t.note(f"python3 {SELF} flip {target} {arg}")
        flip(target, arg)
    elif verb == "truncate":
        t.note(f"truncate -s {arg} {target}")
        os.truncate(target, arg)
    elif verb == "delete":
        t.note(f"rm {target}")
        os.unlink(target)
    elif verb == "delete-catalog":
        t.note(f"rm -f {catalog} {catalog}-wal {catalog}-shm")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(catalog + suffix):
                os.unlink(catalog + suffix)
    elif verb == "catalog-page":
        # a whole b-tree page in use (a table or index page, by its type byte) turned to garbage
        with open(catalog, "rb") as f:
            data = f.read()
        pages = [n for n in range(1, len(data) // 4096) if data[n * 4096] in (0x02, 0x05, 0x0A, 0x0D)]
        offset = 4096 * pages[len(pages) // 2]
        t.note(f"dd if=/dev/urandom of={catalog} bs=4096 seek={offset // 4096} count=1 conv=notrunc  # a b-tree page of garbage")
        with open(catalog, "r+b") as f:
            f.seek(offset)
            f.write(random.Random(offset).randbytes(4096))
    elif verb == "catalog-truncate":
        size = os.path.getsize(catalog)
        t.note(f"truncate -s {size // 2 // 4096 * 4096} {catalog}")
        os.truncate(catalog, size // 2 // 4096 * 4096)
    elif verb in ("stale-wal", "foreign-wal"):
        if verb == "stale-wal":
            source = os.path.join(fixture.dir, "..", "base", "catalog-after-1.db")
        else:
            source = os.path.join(fixture.dir, "foreign", "catalog.db")
        wal = os.path.join(t.dir, "wal")
        t.note(f"python3 {SELF} wal {source} {wal}")
        write_wal(source, wal)
        t.note(f"rm -f {catalog}-shm; cp {wal} {catalog}-wal")
        if os.path.exists(catalog + "-shm"):
            os.unlink(catalog + "-shm")
        shutil.copyfile(wal, catalog + "-wal")


def damage_sweep(base, rng):
    fixture = damage_fixture(base)
    for label, target, action in damage_cases(fixture, rng):
        t = new_trial("damage", "check/restore/repair", label, fixture)
        repo = copy_vault(t, fixture)
        apply_damage(t, repo, fixture, target, action)
        catalog_case = target == "catalog"
        names = ["catalog"] if catalog_case else [os.path.basename(target)[:-5][:12], os.path.basename(target)[:-5]]
        if "WAL" in label:
            result = t.bv(["check", "--repo", repo, "--read-data"])
            t.expect_outcome("check", result)
        else:
            t.check(repo, "check after damage", names=names)
        restorable = []
        for snapshot, expected in fixture.expected.items():
            if t.restore_exact(repo, snapshot, expected, "after damage", must=False):
                restorable.append(snapshot)
        # a backup after the damage must not build on the damaged block: what it records must restore
        again = t.bv(["backup", "--repo", repo, os.path.join(base.dir, "exp3"), "--json"])
        t.expect_outcome("backup after damage", again, ok=(0, 1, 3))
        new_snapshot = json.loads(again.out)["snapshot"] if again.rc == 0 else None
        if new_snapshot:
            t.restore_exact(repo, new_snapshot, os.path.join(base.dir, "exp3"), "of the backup made after damage")
        repair = t.bv(["repair", "--repo", repo, "--apply", "--read-data"])
        t.expect_outcome("repair --apply --read-data", repair)
        must = list(fixture.expected) if catalog_case else restorable
        for snapshot, expected in fixture.expected.items():
            t.restore_exact(repo, snapshot, expected, "after repair" + ("" if snapshot in must else " (was broken)"),
                            must=snapshot in must)
        result = t.bv(["check", "--repo", repo, "--read-data"])
        t.expect_outcome("check after repair", result)
        finish(t)


# ---------------------------------------------------------------- a hostile master (docs/PROTOCOL.md)

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def signed(n):
    return varint(((n << 1) ^ (n >> 63)) & ((1 << 64) - 1))


def bstr(b):
    return varint(len(b)) + b


def frame(kind, payload):
    return struct.pack(">I", len(payload) + 1) + bytes([kind]) + payload


MASTER_DEVICE = "ab" * 32
MASTER_VAULT = "cd" * 16
FOLDER = b"/src"
MTIME = 1_700_000_123_000_000_000


def hello(version=1, receive_only=0, device=MASTER_DEVICE):
    return frame(1, b"BVRP" + bytes([version]) + bstr(device.encode()) + bstr(MASTER_VAULT.encode()) + bytes([receive_only]))


class V:
    """One version the master sends (fields as MetadataRecord encodes them)."""

    def __init__(self, seq, path, kind=0, blocks=(), target=None, mode=0o644, **over):
        self.seq, self.path, self.kind, self.blocks, self.target, self.mode = seq, path, kind, list(blocks), target, mode
        self.over = over

    def content(self):
        return b"".join(self.blocks)

    def ids(self):
        return [hashlib.sha256(b).digest() for b in self.blocks]

    def encode(self, folder_index=0):
        o = self.over
        ids = self.ids()
        hash_ = b"" if not ids else (ids[0] if len(ids) == 1 else hashlib.sha256(b"".join(ids)).digest())
        vv = struct.pack(">QQ", 0x1234, self.seq)
        return (varint(o.get("folder_index", folder_index)) + signed(self.seq) + bstr(o.get("raw_path", self.path))
                + varint(o.get("type", self.kind)) + signed(o.get("size", len(self.content())))
                + varint(self.mode) + varint(0) + varint(0) + signed(MTIME) + signed(MTIME) + varint(self.seq)
                + varint(1) + varint(1) + bytes([0]) + bstr(vv) + bstr(o.get("hash", hash_))
                + varint(o.get("block_count", len(ids))) + bytes([1 if self.target is not None else 0])
                + bstr(self.target or b"") + varint(0x1234))

    def block_list(self):
        ids = self.ids()
        if len(ids) < 2:
            return b""
        return hashlib.sha256(b"".join(ids)).digest() + signed(len(self.content())) + bstr(b"".join(ids))


def versions_record(versions, folders=(FOLDER,), folder_count=None, version_count=None, list_count=None):
    lists = [v.block_list() for v in versions if v.block_list()]
    return (bytes([1]) + varint(len(folders) if folder_count is None else folder_count) + b"".join(bstr(f) for f in folders)
            + varint(len(versions) if version_count is None else version_count) + b"".join(v.encode() for v in versions)
            + varint(len(lists) if list_count is None else list_count) + b"".join(lists))


def snapshot_record(sid, seq, files=None, folder=FOLDER):
    """A snapshot record at `seq` whose file count and bytes are what the honest sessions' versions
    hold as of it (a replica records a snapshot only when they agree with what it holds); `files`,
    when given, is the count it claims instead."""
    latest = {}
    for v in SESSION1 + SESSION2:
        if v.seq <= seq:
            latest[v.path] = v
    regular = [v for v in latest.values() if v.kind == 0]
    count = len(regular) if files is None else files
    return (bytes([2]) + bstr(sid.encode()) + bstr(folder) + signed(MTIME) + bstr(b"master") + bstr(b"")
            + signed(seq) + signed(count) + signed(sum(len(v.content()) for v in regular)) + bytes([0]) + varint(0))


def index_batch(versions, snapshots, done=1, record=None, snapshot_count=None):
    record = versions_record(versions) if record is None else record
    snaps = b"".join(bstr(s) for s in snapshots)
    return frame(3, bytes([done]) + bstr(record) + varint(len(snapshots) if snapshot_count is None else snapshot_count) + snaps)


def block_entry(block, encoding=0, raw=None, stored=None):
    return (hashlib.sha256(block).digest() + bytes([encoding]) + varint(len(block) if raw is None else raw)
            + bstr(block if stored is None else stored))


def zstd_bomb(blocks=2000):
    """A zstd frame of `blocks` RLE blocks of 128 KiB each: a few KiB that expand to blocks x 128 KiB."""
    header = struct.pack("<I", 0xFD2FB528) + bytes([0x00, 7 << 3])
    body = b""
    for i in range(blocks):
        last = 1 if i == blocks - 1 else 0
        body += struct.pack("<I", last | (1 << 1) | ((128 << 10) << 3))[:3] + b"\x00"
    return header + body


R = random.Random(5)
A = R.randbytes(3000)
B = [R.randbytes(5000), R.randbytes(7000), R.randbytes(100)]
A2 = R.randbytes(4000)
C = R.randbytes(9000)
SESSION1 = [V(1, b"a.txt", blocks=[A]), V(2, b"b.bin", blocks=B), V(3, b"l", kind=2, target=b"a.txt", mode=0o777)]
SESSION2 = [V(4, b"a.txt", blocks=[A2]), V(5, b"c.txt", blocks=[C])]
S1, S2 = "00000000000000a1", "00000000000000a2"


def expected_tree(directory, versions):
    """The tree a snapshot of `versions` (latest per path) restores to."""
    latest = {}
    for v in versions:
        latest[v.path] = v
    os.makedirs(directory, exist_ok=True)
    for path, v in latest.items():
        full = os.path.join(directory, path.decode())
        if v.kind == 2:
            os.symlink(v.target.decode(), full)
        else:
            with open(full, "wb") as f:
                f.write(v.content())
            os.chmod(full, v.mode)
        os.utime(full, ns=(MTIME, MTIME), follow_symlinks=False)


def session_frames(stage):
    """What an honest master sends in session 1 or 2, keyed by the request it answers."""
    versions, sid, seq = (SESSION1, S1, 3) if stage == 1 else (SESSION2, S2, 5)
    snaps = [snapshot_record(S1, 3)] + ([snapshot_record(S2, 5)] if stage == 2 else [])
    return versions, index_batch(versions, snaps)


def read_varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    length, = struct.unpack(">I", header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return body[0], body[1:]


def play(replica, script, timeout=30):
    """Runs `BIN serve --stdio --repo replica` against `script`, a generator that receives each
    message of serve as (type, payload) (None when serve stopped writing) and yields the bytes to send
    (None: hang up; ("last", bytes): send these, then hang up). Returns (rc, stderr, hung)."""
    process = subprocess.Popen([BIN, "serve", "--stdio", "--repo", replica], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, start_new_session=True)
    timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
    timer.start()
    errors = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()))
    reader.start()
    hung = False
    try:
        step = script()
        out = next(step)
        while out is not None:
            last = isinstance(out, tuple)  # ("last", bytes): send them, then hang up
            if last:
                out = out[1]
            if out:
                try:
                    process.stdin.write(out)
                    process.stdin.flush()
                except (BrokenPipeError, OSError):
                    break
            if last:
                break
            try:
                out = step.send(read_frame(process.stdout))
            except StopIteration:
                break
    finally:
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        hung = not timer.is_alive() and process.returncode == -signal.SIGKILL  # the timer fired
        timer.cancel()
        if process.returncode is None:
            hung = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join()
    return process.returncode, errors[0].decode(errors="replace") if errors else "", hung


def honest(stage, mutate=None, hangup_after=None, truncate_at=None):
    """The honest master of `stage`; `mutate(kind, bytes) -> bytes` edits what it sends,
    `hangup_after` stops after that many messages, `truncate_at` sends only half of that message."""
    def script():
        versions, batch = session_frames(stage)
        blocks = {hashlib.sha256(b).digest(): b for v in versions for b in v.blocks}
        sent = 0
        message = hello()
        while True:
            if mutate:
                message = mutate(sent, message)
            if hangup_after is not None and sent >= hangup_after:
                yield None
                return
            if truncate_at is not None and sent == truncate_at:
                yield ("last", message[:max(1, len(message) // 2)])
                return
            got = yield message
            sent += 1
            if got is None:
                return
            kind, payload = got
            if kind == 1:
                # Protocol 3: the sender answers the receiver's hello with its highest sequence.
                got = yield frame(9, varint(max(v.seq for v in versions)))
                if got is None:
                    return
                kind, payload = got
            if kind == 2:
                after = read_varint(payload, 0)[0]
                after = (after >> 1) ^ -(after & 1)
                snaps = [snapshot_record(S1, 3)] + ([snapshot_record(S2, 5)] if stage == 2 else [])
                message = batch if after == 0 else index_batch([v for v in versions if v.seq > after], snaps)
            elif kind == 7:
                message = frame(8, varint(0))
            elif kind == 4:
                count, at = read_varint(payload, 0)
                ids = [payload[at + 32 * i: at + 32 + 32 * i] for i in range(count)]
                message = frame(5, varint(len(ids)) + b"".join(block_entry(blocks[i]) for i in ids))
            elif kind == 6:
                return
            else:
                message = frame(6, bstr(b"unexpected"))
    return script


def serve_session(replica, script):
    rc, err, hung = play(replica, script)
    return Result(rc, "", err, hung, [])


def hostile_cases():
    """(name, script factory): each a master that breaks the protocol one way, on top of session 1."""
    cases = []
    versions2, batch2 = session_frames(2)
    snaps2 = [snapshot_record(S1, 3), snapshot_record(S2, 5)]

    def replace(kind_number, new_bytes):
        return lambda sent, message: new_bytes if message[4] == kind_number else message

    def replace_batch(record=None, snapshots=None, **kw):
        return replace(3, index_batch(versions2, snaps2 if snapshots is None else snapshots, record=record, **kw))

    for n in range(3):
        cases.append((f"hang up after {n} messages", honest(2, hangup_after=n)))
        cases.append((f"message {n} truncated, then hang up", honest(2, truncate_at=n)))
    cases.append(("frame length 0", honest(2, mutate=replace(3, b"\x00\x00\x00\x00"))))
    cases.append(("frame length 2^32-1", honest(2, mutate=replace(3, b"\xff\xff\xff\xff\x03"))))
    cases.append(("frame length 40 MiB + 1", honest(2, mutate=replace(3, struct.pack(">I", (40 << 20) + 1) + b"\x03"))))
    cases.append(("unknown message type 200", honest(2, mutate=replace(3, frame(200, b"")))))
    cases.append(("hello with protocol 255", honest(2, mutate=lambda s, m: m[:9] + b"\xff" + m[10:] if s == 0 else m)))
    for value, label in ((1 << 63, "2^63"), ((1 << 64) - 1, "2^64-1"), ((1 << 62), "2^62")):
        cases.append((f"folder count {label}", honest(2, mutate=replace_batch(record=versions_record(versions2, folder_count=value)))))
        cases.append((f"version count {label}", honest(2, mutate=replace_batch(record=versions_record(versions2, version_count=value)))))
        cases.append((f"block list count {label}", honest(2, mutate=replace_batch(record=versions_record(versions2, list_count=value)))))
        cases.append((f"snapshot count {label}", honest(2, mutate=replace_batch(snapshot_count=value))))
        cases.append((f"entry type {label}", honest(2, mutate=replace_batch(record=versions_record([V(4, b"x", type=value)])))))
        cases.append((f"block count {label}", honest(2, mutate=replace_batch(record=versions_record([V(4, b"a.txt", blocks=[A2], block_count=value)])))))
        cases.append((f"folder index {label}", honest(2, mutate=replace_batch(record=versions_record([V(4, b"a.txt", blocks=[A2], folder_index=value)])))))
        cases.append((f"block response count {label}", honest(2, mutate=replace(5, frame(5, varint(value))))))
        cases.append((f"declared raw length {label}", honest(2, mutate=replace(5, frame(5, varint(1) + block_entry(A2, raw=value))))))
        cases.append((f"dictionary request answered with count {label}",
                      honest(2, mutate=lambda s, m, v=value: hello(version=2) if s == 0 else (frame(8, varint(v)) if m[4] == 8 else m))))
    cases.append(("sequence 2^63-1 (a jump)", honest(2, mutate=replace_batch(record=versions_record([V((1 << 63) - 1, b"a.txt", blocks=[A2])])))))
    cases.append(("sequence going backwards", honest(2, mutate=replace_batch(record=versions_record([V(2, b"a.txt", blocks=[A2])])))))
    cases.append(("snapshot with sequence 2^63-1", honest(2, mutate=replace_batch(snapshots=[snapshot_record(S2, (1 << 63) - 1)]))))
    cases.append(("wrong bytes for a block's hash",
                  honest(2, mutate=replace(5, frame(5, varint(2) + block_entry(A2, stored=A2[:-1] + b"x") + block_entry(C))))))
    cases.append(("a block that was not asked for", honest(2, mutate=replace(5, frame(5, varint(1) + block_entry(b"never asked"))))))
    cases.append(("zstd bomb (declared 4000 bytes, expands to 250 MiB)",
                  honest(2, mutate=replace(5, frame(5, varint(1) + hashlib.sha256(A2).digest() + b"\x01" + varint(len(A2)) + bstr(zstd_bomb()))))))
    cases.append(("encoding 3 (shared frame) on the wire", honest(2, mutate=replace(5, frame(5, varint(1) + block_entry(A2, encoding=3))))))
    for path, label in ((b"../escape", "'..' path"), (b"/etc/passwd", "absolute path"), (b"a\x00b", "NUL in path"),
                        (b"a//b", "empty component"), (b"./a", "'.' component"), (b"x" * 300, "component over 255 bytes"),
                        (b"", "empty path")):
        cases.append((label, honest(2, mutate=replace_batch(record=versions_record([V(4, path, blocks=[A2])])))))
    cases.append(("relative folder", honest(2, mutate=replace_batch(record=versions_record([V(4, b"a.txt", blocks=[A2])], folders=(b"src",))))))
    cases.append(("folder with '..'", honest(2, mutate=replace_batch(record=versions_record([V(4, b"a.txt", blocks=[A2])], folders=(b"/src/../etc",))))))
    cases.append(("snapshot of folder '..'", honest(2, mutate=replace_batch(snapshots=[snapshot_record(S2, 5, folder=b"/../x")]))))
    cases.append(("malformed snapshot id", honest(2, mutate=replace_batch(snapshots=[snapshot_record("../../etc/xx", 5)]))))
    cases.append(("trailing bytes after a message", honest(2, mutate=lambda s, m: frame(3, m[5:] + b"\x00") if m[4] == 3 else m)))
    cases.append(("another master's hello", honest(2, mutate=lambda s, m: hello(device="ef" * 32) if s == 0 else m)))
    cases.append(("receive-only hello", honest(2, mutate=lambda s, m: hello(receive_only=1) if s == 0 else m)))
    cases.append(("block list that does not match its hash",
                  honest(2, mutate=replace_batch(record=versions_record([V(4, b"a.txt", blocks=[A2, C], hash=b"\x11" * 32)])))))
    return cases


# A master may send these and be ignored rather than refused; what follows must still hold.
# A receiver of protocol 3 asks for a dictionary only for a block that needs one, and these sessions
# send none: the forged answer is never asked for, and the session may succeed.
MAY_ACCEPT = {"snapshot with sequence 2^63-1", "snapshot of folder '..'"} | {
    f"dictionary request answered with count {label}" for label in ("2^63", "2^64-1", "2^62")}


def hostile_fixture():
    f = Fixture("replica")
    os.makedirs(f.dir)
    f.repo = os.path.join(f.dir, "replica")
    f.run([BIN, "init", "--repo", f.repo, "--receive-only"])
    f.repro.append(f"python3 {SELF} peer honest1 {f.repo} {BIN}")
    rc, err, hung = play(f.repo, honest(1))
    if rc != 0:
        raise SystemExit(f"the honest master's first session failed ({rc}): {err.strip()}; the hostile sweep cannot start")
    f.exp1, f.exp2 = os.path.join(f.dir, "exp1"), os.path.join(f.dir, "exp2")
    expected_tree(f.exp1, SESSION1)
    expected_tree(f.exp2, SESSION1 + SESSION2)
    return f


def hostile_sweep(rng):
    fixture = hostile_fixture()
    cases = hostile_cases()
    for name, script in cases:
        t = new_trial("hostile", "serve --stdio", name, fixture)
        replica = copy_vault(t, fixture, "replica")
        t.note(f"python3 {SELF} peer {shlex.quote(name)} {replica} {BIN}")
        result = serve_session(replica, script)
        t.expect_outcome("serve", result, ok=(0, 1) if name in MAY_ACCEPT else (1,))
        t.check(replica, "check of the replica")
        t.restore_exact(replica, S1, fixture.exp1, "of the replica's snapshot")
        t.note(f"python3 {SELF} peer honest2 {replica} {BIN}")
        again = serve_session(replica, honest(2))
        if t.expect_success("an honest session afterwards", again):
            t.restore_exact(replica, S1, fixture.exp1, "of the first snapshot afterwards")
            t.restore_exact(replica, S2, fixture.exp2, "of the honest session's snapshot")
        t.check(replica, "check of the replica afterwards")
        finish(t)


# ---------------------------------------------------------------- racing files

MARKER = b"OUTSIDE-THE-SOURCE-" + b"7f3a9c"


LIBC = None


def exchange(a, b):
    """Swaps two names atomically (renameat2 with RENAME_EXCHANGE)."""
    global LIBC
    if LIBC is None:
        import ctypes
        LIBC = ctypes.CDLL(None, use_errno=True)
    if LIBC.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
        raise OSError(f"renameat2 {a} {b} failed")


class Racer:
    """Changes the racing entries of a source tree in a loop while a backup reads it."""

    def __init__(self, src, outside, rng):
        self.src, self.outside, self.rng = src, outside, rng
        self.stop = threading.Event()
        self.grow_stream = random.Random(rng.random()).randbytes(8 << 20)
        self.grown = 0

    def setup(self):
        p = lambda *a: os.path.join(self.src, *a)
        os.makedirs(self.outside, exist_ok=True)
        with open(os.path.join(self.outside, "secret.txt"), "wb") as f:
            f.write(MARKER * 100)
        for i in range(300):
            os.makedirs(p(f"bulk{i % 10}"), exist_ok=True)
            with open(p(f"bulk{i % 10}", f"b{i}.txt"), "wb") as f:
                f.write(random.Random(i).randbytes(2000 + i * 7))
        self.grown = 20000
        with open(p("grow.log"), "wb") as f:
            f.write(self.grow_stream[:self.grown])
        self.initial_grow = self.grown
        with open(p("swap.txt"), "wb") as f:
            f.write(b"X" * 5000)
        with open(p("flip"), "wb") as f:
            f.write(b"F" * 3000)
        with open(p("sneaky"), "wb") as f:
            f.write(b"H" * 3000)
        os.makedirs(p("sub"))
        with open(p("sub", "k.txt"), "wb") as f:
            f.write(b"K" * 3000)
        os.makedirs(p(".flip"))
        with open(p(".flip", "inner.txt"), "wb") as f:
            f.write(b"G" * 3000)
        os.symlink(os.path.join(self.outside, "secret.txt"), p(".sneaky"))
        os.symlink(self.outside, p(".sub"))
        os.mkfifo(p("pipe"))
        os.symlink("loop2", p("loop1"))
        os.symlink("loop1", p("loop2"))
        os.symlink(".", p("self"))

    def step(self):
        p = lambda *a: os.path.join(self.src, *a)
        rng = self.rng
        with open(p("grow.log"), "ab") as f:
            n = rng.randrange(1, 9000)
            if self.grown + n < len(self.grow_stream):
                f.write(self.grow_stream[self.grown:self.grown + n])
                self.grown += n
        with open(p(".swap.tmp"), "wb") as f:
            f.write(rng.choice([b"X" * 5000, b"Y" * 7000]))
        os.rename(p(".swap.tmp"), p("swap.txt"))
        # each racing entry trades places with its partner atomically (renameat2 RENAME_EXCHANGE):
        # a file and a directory, a file and a symlink to outside, a directory and a symlink to outside
        for name in ("flip", "sneaky", "sub"):
            if rng.random() < 0.7:
                exchange(p(name), p("." + name))

    def loop(self):
        while not self.stop.is_set():
            self.step()
            if self.rng.random() < 0.3:
                time.sleep(self.rng.random() * 0.002)


def judge_racing(t, target, racer, exit_status):
    """What a backup racing the changes recorded must be one of the states the entries had."""
    p = lambda *a: os.path.join(target, *a)
    for base, dirs, files in os.walk(target):
        for name in files:
            full = os.path.join(base, name)
            if not os.path.islink(full) and os.path.isfile(full):
                with open(full, "rb") as f:
                    if MARKER in f.read():
                        t.problem(f"the backup stored content from outside the source: {os.path.relpath(full, target)}")
    for i in range(300):
        full = p(f"bulk{i % 10}", f"b{i}.txt")
        want = random.Random(i).randbytes(2000 + i * 7)
        if not os.path.isfile(full) or open(full, "rb").read() != want:
            t.problem(f"bulk{i % 10}/b{i}.txt (never changed) did not restore exactly")
            break
    partial = exit_status == 3

    def one_of(path, states):
        full = p(path)
        if os.path.islink(full):
            state = ("symlink", os.readlink(full))
        elif os.path.isdir(full):
            state = ("dir", tuple(sorted((n, open(os.path.join(full, n), "rb").read()) for n in os.listdir(full))))
        elif os.path.isfile(full):
            state = ("file", open(full, "rb").read())
        else:
            state = None
        if partial and (state is None or state == ("dir", ())):
            return  # a directory that changed while it was read is recorded empty, and named on stderr
        if state not in states:
            t.problem(f"{path} restored as a state it never had: {str(state)[:120]} (backup exit {exit_status})")

    one_of("swap.txt", [("file", b"X" * 5000), ("file", b"Y" * 7000)])
    one_of("flip", [("file", b"F" * 3000), ("dir", (("inner.txt", b"G" * 3000),))])
    one_of("sneaky", [("file", b"H" * 3000), ("symlink", os.path.join(racer.outside, "secret.txt"))])
    one_of("sub", [("dir", (("k.txt", b"K" * 3000),)), ("symlink", racer.outside)])
    grow = p("grow.log")
    if os.path.isfile(grow):
        data = open(grow, "rb").read()
        if len(data) < racer.initial_grow or racer.grow_stream[:len(data)] != data:
            t.problem(f"grow.log (appended while read) restored as {len(data)} bytes that are not what the file held")
    elif not partial:
        t.problem("grow.log is missing from a backup that exited 0")
    for name, kind in (("pipe", stat.S_ISFIFO), ("loop1", stat.S_ISLNK), ("loop2", stat.S_ISLNK), ("self", stat.S_ISLNK)):
        if not os.path.lexists(p(name)) or not kind(os.lstat(p(name)).st_mode):
            t.problem(f"{name} did not restore as what it is")


def racing_sweep(rng):
    for round_ in range(scaled(12)):
        t = new_trial("racing", "backup", "entries changing during the walk", None)
        src, outside, repo = (os.path.join(t.dir, n) for n in ("src", "outside", "vault"))
        racer = Racer(src, outside, random.Random(rng.random()))
        racer.setup()
        t.note(f"# a source tree at {src} whose entries a second process changes in a loop while the backup runs: "
               "grow.log appended, swap.txt replaced by rename, and by renameat2(RENAME_EXCHANGE) with a partner: flip "
               f"file<->dir, sneaky file<->symlink to {outside}/secret.txt, sub dir<->symlink to {outside}; static: 300 files, a FIFO, symlink loops "
               f"(scripts/faults.py Racer, seed {round_})")
        t.expect_success("init", t.bv(["init", "--repo", repo]))
        for attempt in range(2):
            thread = threading.Thread(target=racer.loop)
            thread.start()
            try:
                result = t.bv(["backup", "--repo", repo, src, "--json"])
            finally:
                racer.stop.set()
                thread.join()
                racer.stop.clear()
            if not t.expect_outcome("backup while entries change", result, ok=(0, 3)):
                break
            snapshot = json.loads(result.out)["snapshot"]
            target = os.path.join(t.dir, f"target{attempt}")
            restore = t.bv(["restore", "--repo", repo, "--target", target, snapshot])
            if t.expect_success("restore of what it recorded", restore):
                judge_racing(t, target, racer, result.rc)
            shutil.rmtree(target, ignore_errors=True)
        t.check(repo)
        finish(t)


# ---------------------------------------------------------------- libFuzzer targets

FUZZ_TARGETS = ["FuzzFrame", "FuzzMessage", "FuzzVersions", "FuzzPackFooter", "FuzzPathRules"]


def fuzz_sweep(rng):
    if FUZZ_SECONDS <= 0:
        return
    build = ["swift", "build", "--scratch-path", ".build/fuzz", "--sanitize=fuzzer", "--sanitize=address"]
    for target in FUZZ_TARGETS:
        rc, out, err, hung = run_process(build + ["--product", target], timeout=1800, cwd=ROOT,
                                         env=dict(os.environ, BLOCKVAULT_FUZZ="1"))
        t = new_trial("fuzz", target, f"libFuzzer {FUZZ_SECONDS} s", None)
        t.note(f"cd {ROOT} && BLOCKVAULT_FUZZ=1 {shlex.join(build + ['--product', target])}")
        if rc != 0:
            t.problem(f"the fuzz target does not build: {(out + err).strip().splitlines()[-3:]}")
            finish(t)
            continue
        binary = os.path.join(ROOT, ".build/fuzz/debug", target)
        corpus = os.path.join(OUT, "fuzz-corpus", target)
        artifacts = os.path.join(OUT, "fuzz-crashes", target) + "/"
        os.makedirs(corpus, exist_ok=True)
        os.makedirs(artifacts, exist_ok=True)
        argv = [binary, corpus, os.path.join(ROOT, "Fixtures/fuzz", target), f"-max_total_time={FUZZ_SECONDS}",
                f"-artifact_prefix={artifacts}", "-rss_limit_mb=4096", "-timeout=20", "-max_len=65536",
                f"-seed={SEED}", "-print_final_stats=1"]
        t.note(shlex.join(argv))
        rc, out, err, hung = run_process(argv, timeout=FUZZ_SECONDS + 300, cwd=ROOT)
        crashes = [os.path.join(artifacts, n) for n in sorted(os.listdir(artifacts))]
        if rc != 0 or crashes:
            reason = [l for l in err.splitlines() if "Fatal error" in l or "ERROR: " in l or "SUMMARY" in l][:2]
            t.problem(f"libFuzzer found a crash ({'; '.join(reason) or f'exit {rc}'}); input: {', '.join(crashes) or 'none saved'}")
            for crash in crashes[:1]:
                t.note(f"{binary} {crash}   # reproduces the crash")
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", err)
        print(f"  fuzz {target}: {runs[-1] if runs else '?'} inputs, exit {rc}", flush=True)
        finish(t)


# ---------------------------------------------------------------- seeds for the fuzz targets

def make_seeds():
    """Writes Fixtures/fuzz/<target>/ from the real binary: a push's bytes on the wire (captured by a
    stand-in ssh command), the messages and versions records in them, real small packs, and paths."""
    work = os.path.join(WORK, "seeds")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src, repo, replica = (os.path.join(work, n) for n in ("src", "vault", "replica"))
    os.makedirs(os.path.join(src, "docs"))
    r = random.Random(3)
    for i in range(6):
        with open(os.path.join(src, "docs" if i % 2 else "", f"f{i}.txt"), "wb") as f:
            f.write(r.randbytes(300 + i * 200) if i % 3 else b"hello world\n" * (20 + i))
    with open(os.path.join(src, "big.txt"), "wb") as f:  # two blocks in one shared frame: a footer of format 1
        f.write(b"".join(b"line %d of a compressible file\n" % i for i in range(12000)))
    os.symlink("f0.txt", os.path.join(src, "link"))
    for argv in ([BIN, "init", "--repo", repo], [BIN, "backup", "--repo", repo, src], [BIN, "init", "--repo", replica, "--receive-only"]):
        subprocess.run(argv, check=True, env=ENV, capture_output=True)
    capture = os.path.join(work, "wire")
    wrapper = os.path.join(work, "ssh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\n# stand-in for ssh: $1 is the host, $2 the command; records both directions\n"
                f"tee {capture}.in | sh -c \"$2\" | tee {capture}.out\n")
    os.chmod(wrapper, 0o755)
    subprocess.run([BIN, "push", "--repo", repo, "--to", f"ssh://seed{replica}", "--ssh-command", wrapper, "--remote-command", BIN],
                   check=True, env=ENV, capture_output=True)
    seeds = {t: {} for t in FUZZ_TARGETS}
    for side in ("in", "out"):
        data = open(f"{capture}.{side}", "rb").read()
        seeds["FuzzFrame"][f"stream-{side}"] = b"\x07" + data[:60000]
        at = 0
        while at + 4 <= len(data):
            length, = struct.unpack(">I", data[at:at + 4])
            body = data[at + 4:at + 4 + length]
            at += 4 + length
            seeds["FuzzMessage"][f"{side}-type{body[0]}"] = body[:60000]
            if body[0] == 3:
                n, start = read_varint(body, 2)
                seeds["FuzzVersions"]["index-batch-record"] = body[start:start + n]
    for kind, size, path in packs(repo):
        if size <= 60000:
            seeds["FuzzPackFooter"][f"{'data' if kind == 0 else 'metadata'}-pack-{len(seeds['FuzzPackFooter'])}"] = open(path, "rb").read()
    for i, p in enumerate([b"a", b"docs/f1.txt", b"/src", b"/", b"dir/sub/file name with spaces", "ü/é.txt".encode()]):
        seeds["FuzzPathRules"][f"path{i}"] = p
    for target, files in seeds.items():
        directory = os.path.join(ROOT, "Fixtures/fuzz", target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in files.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(files)} seeds, {sum(len(d) for d in files.values())} bytes")


# ---------------------------------------------------------------- report

def report(seconds, commit):
    lines = [f"blockvault fault campaign: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
             f"FAULTS_SCALE={SCALE:g}, FAULTS_FUZZ_SECONDS={FUZZ_SECONDS}, FAULTS_SEED={SEED}, {seconds / 60:.1f} min", "",
             "| sweep | command | fault | tried | passed | failed | skipped | fault landed |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    totals = [0, 0, 0, 0, 0]
    for (sweep, command, fault), row in RESULTS.items():
        lines.append(f"| {sweep} | {command} | {fault} | {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} |")
        totals = [a + b for a, b in zip(totals, row)]
    lines.append(f"| **all** | | | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** | **{totals[3]}** | **{totals[4]}** |")
    lines += ["", "skipped: an injected I/O error that missed blockvault's own files (it hit the dynamic loader, "
              "/proc, a pipe) or was never reached; such a run tests nothing and is not counted. fault landed: "
              "trials in which the fault took effect (an injected call, or the process died of our kill -9); "
              "the others ran to completion before the N-th call (a thread makes fewer calls than the busiest one).", ""]
    if FAILURES:
        lines.append(f"## {len(FAILURES)} failures")
        os.makedirs(os.path.join(OUT, "repro"), exist_ok=True)
        for i, (sweep, command, fault, problems, repro) in enumerate(FAILURES, 1):
            script = os.path.join(OUT, "repro", f"{i:03d}.sh")
            with open(script, "w") as f:
                f.write("#!/bin/sh\n# " + f"{sweep} / {command} / {fault}\n# " + "\n# ".join(problems) + "\nset -x\n" + "\n".join(repro) + "\n")
            lines += ["", f"### {i}. {sweep} / {command} / {fault}", ""] + [f"- {p}" for p in problems]
            lines += ["", f"Reproduction ({script}):", "", "```sh"] + repro + ["```"]
    return "\n".join(lines) + "\n", totals


def main():
    start = time.monotonic()
    if not os.access(BIN, os.X_OK):
        raise SystemExit(f"no binary at {BIN}: run `make build` (or set FAULTS_BIN)")
    if shutil.which("strace") is None:
        raise SystemExit("strace is not installed: `make deps` installs it")
    # an interrupted run may have left its tmpfs mounts behind
    with open("/proc/mounts") as f:
        for mount_point in sorted((line.split()[1] for line in f if line.split()[1].startswith(WORK + "/")), reverse=True):
            umount(mount_point)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    commit += "+changes" if dirty else ""
    wanted = lambda name: not ONLY or name in ONLY
    print(f"fault campaign: {BIN}, scale {SCALE:g}, work in {WORK}", flush=True)
    base = base_fixture()
    if wanted("kill") or wanted("io"):
        forgotten = derived_fixture(base, "forgotten", lambda f: [[BIN, "forget", "--repo", f.repo, "--keep-last", "1"]])
        lost = derived_fixture(base, "lost-catalog", lambda f: [["sh", "-c", f"rm -f {f.repo}/catalog.db*"]])
        pushable = derived_fixture(base, "pushable", lambda f: [[BIN, "init", "--repo", os.path.join(f.dir, "replica"), "--receive-only"]])
        forgot_pushed = derived_fixture(base, "forgot-pushed", lambda f: [
            [BIN, "init", "--repo", os.path.join(f.dir, "replica"), "--receive-only"],
            [BIN, "push", "--repo", f.repo, "--to", os.path.join(f.dir, "replica")],
            [BIN, "forget", "--repo", f.repo, "--keep-last", "1", "--prune"]])
        scens = scenarios(base, forgotten, lost, pushable, forgot_pushed)
    # each sweep draws from a generator of its own, so that its choices (damage offsets, N, timings)
    # do not depend on how many draws the sweeps before it made
    sweeps = [("kill", lambda rng: kill_sweep(scens, rng)), ("io", lambda rng: io_sweep(scens, rng)),
              ("diskfull", lambda rng: diskfull_sweep(base, rng)), ("damage", lambda rng: damage_sweep(base, rng)),
              ("hostile", hostile_sweep), ("racing", racing_sweep), ("fuzz", fuzz_sweep)]
    for name, sweep in sweeps:
        if wanted(name):
            began = time.monotonic()
            print(f"== {name}", flush=True)
            try:
                sweep(random.Random(f"{SEED}/{name}"))
            except Exception:
                # a bug of the harness, not of blockvault: said loudly, and the campaign fails
                import traceback
                traceback.print_exc()
                HARNESS_ERRORS.append(f"{name}: {traceback.format_exc().strip().splitlines()[-1]}")
            print(f"   {name}: {time.monotonic() - began:.0f} s", flush=True)
    text, totals = report(time.monotonic() - start, commit)
    if HARNESS_ERRORS:
        text += "\n## The harness itself failed (not blockvault)\n\n" + "\n".join(f"- {e}" for e in HARNESS_ERRORS) + "\n"
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"report: {os.path.join(OUT, 'report.md')}; {totals[2]} of {totals[0]} trials failed")
    return 1 if totals[2] or HARNESS_ERRORS else 0


def command_line():
    args = sys.argv[1:]
    if not args:
        return main()
    verb = args[0]
    if verb == "mktree":
        mktree(args[1], int(args[2]), int(args[3]))
    elif verb == "same":
        difference = first_difference(args[1], args[2])
        if difference:
            print(difference)
            return 1
    elif verb == "flip":
        flip(args[1], int(args[2]))
    elif verb == "wal":
        write_wal(args[1], args[2])
    elif verb == "catcopy":
        source, target = sqlite3.connect(args[1]), sqlite3.connect(args[2])
        source.backup(target)
        source.close()
        target.close()
    elif verb == "seeds":
        make_seeds()
    elif verb == "peer":
        global BIN
        name, replica, BIN = args[1], args[2], os.path.abspath(args[3])
        scripts = dict(hostile_cases(), honest1=honest(1), honest2=honest(2))
        rc, err, hung = play(replica, scripts[name])
        sys.stderr.write(err)
        print(f"serve: exit {rc}" + (" (hung)" if hung else ""))
        return 0
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(command_line())
