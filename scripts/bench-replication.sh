#!/usr/bin/env bash
# Replication benchmark: `blockvault push` to a receive-only replica against `rsync -a --delete`,
# both over ssh to a private sshd on 127.0.0.1, on the corpus scripts/bench.sh builds.
# bench.sh runs it as its last step (BENCH_REPLICATION=0 skips it); it also runs alone:
#   bash scripts/bench-replication.sh        (after `make bench` has built the corpus once)
#
# Like with like, interleaved (blockvault first in odd repetitions, rsync first in even ones):
#   initial:     push of a master holding v1 only into a fresh replica  vs  rsync of v1 into an empty dir
#   incremental: push of the master after its backup of v2 (same source path) into that replica
#                vs  rsync of v2 over the v1 copy
# Seconds are wall time of the whole command (ssh session included) and of a `sync` after it (rsync
# does not fsync, blockvault fsyncs its packs: both timings end with the data on disk); bytes are what crossed the
# ssh session: blockvault's bytes_sent + bytes_received (push --json), rsync's "Total bytes sent"
# + "Total bytes received" (--stats). Medians over the repetitions.
#
# Environment:
#   BENCH_REPLICATION_REPS=3   repetitions
#   BENCH_QUICK=1              the quick corpus (bench-work/corpus-quick)
#   BENCH_CORPUS=DIR           a corpus directory holding v1/ and v2/ (default: bench.sh's)
#   BENCH_RESULTS=FILE         where the table is appended (default bench-work/results.txt)
#   BENCH_TIMEOUT=1800         seconds after which one step is killed and the run fails
#   BENCH_KEEP=1               keep the vaults and copies in bench-work/replication
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
WORK=$ROOT/bench-work
BV=$ROOT/.build/release/blockvault
REPS=${BENCH_REPLICATION_REPS:-3}
STEP_TIMEOUT=${BENCH_TIMEOUT:-1800}
KEEP=${BENCH_KEEP:-0}
if [ "${BENCH_QUICK:-0}" = 1 ]; then CORPUS=${BENCH_CORPUS:-$WORK/corpus-quick}; else CORPUS=${BENCH_CORPUS:-$WORK/corpus}; fi
V1=$CORPUS/v1
V2=$CORPUS/v2
RESULTS=${BENCH_RESULTS:-$WORK/results.txt}
DIR=$WORK/replication
LOG=$WORK/logs/replication.log

die() { echo "bench-replication: error: $*" >&2; exit 1; }
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPLICATION_REPS must be a positive integer (got '$REPS')"
[ -x "$BV" ] || die "$BV not found; run 'make bench'"
[ -d "$V1" ] && [ -d "$V2" ] || die "no corpus in $CORPUS (v1/ and v2/); 'make bench' builds it, or set BENCH_CORPUS"
for tool in /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen rsync python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install openssh-server openssh-client rsync; make test and make bench install them)"
done
[ "$(id -u)" = 0 ] || [ -d /run/sshd ] || die "sshd needs /run/sshd; run as root or create it"

rm -rf "$DIR"
mkdir -p "$DIR" "$WORK/logs"
: >"$LOG"

# ---------------------------------------------------------------------------------------------
# A private sshd on a free loopback port: its own host key, client key and authorized_keys.
SSHD_PID=""
cleanup() {
    if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; wait "$SSHD_PID" 2>/dev/null || true; fi
    [ "$KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT

KEYS=$DIR/ssh
mkdir -p "$KEYS" /run/sshd
ssh-keygen -q -t ed25519 -N '' -C bench -f "$KEYS/host_key"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$KEYS/client_key"
cp "$KEYS/client_key.pub" "$KEYS/authorized_keys"
USER_NAME=$(id -un)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for attempt in 1 2 3 4 5; do
    candidate=$(free_port)
    cat >"$KEYS/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $candidate
HostKey $KEYS/host_key
PidFile $KEYS/sshd.pid
AuthorizedKeysFile $KEYS/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
X11Forwarding no
PrintMotd no
EOF
    /usr/sbin/sshd -D -e -f "$KEYS/sshd_config" 2>>"$KEYS/sshd.log" </dev/null &
    SSHD_PID=$!
    for _ in $(seq 100); do
        if listening "$candidate"; then PORT=$candidate; break; fi
        kill -0 "$SSHD_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] && break
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=""
done
[ -n "$PORT" ] || die "sshd did not start on 127.0.0.1: $(tail -n 5 "$KEYS/sshd.log")"

SSH_COMMAND="ssh -i $KEYS/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
RSYNC_SSH="$SSH_COMMAND -p $PORT"
$RSYNC_SSH "$USER_NAME@127.0.0.1" true </dev/null || die "cannot log in to the benchmark sshd as $USER_NAME: $(tail -n 5 "$KEYS/sshd.log")"

# ---------------------------------------------------------------------------------------------
# The master, once: backup of v1, a copy of the vault as it is then, backup of v2 from the same
# source path. Each repetition pushes the v1 copy into a fresh replica, then the full master.
SRC=$DIR/src
MASTER=$DIR/master
MASTER_V1=$DIR/master-v1
step() { echo "\$ $*" >>"$LOG"; timeout -k 10 "$STEP_TIMEOUT" "$@" </dev/null 2>>"$LOG"; }
echo "bench-replication: preparing the master (backups of v1 and v2)"
mkdir -p "$SRC"
rsync -a --delete "$V1/" "$SRC/"
step "$BV" init --repo "$MASTER" >>"$LOG"
status=0; step "$BV" backup --repo "$MASTER" "$SRC" >>"$LOG" || status=$?
[ "$status" = 0 ] || [ "$status" = 3 ] || die "backup of v1 failed (status $status, $LOG)"
cp -a "$MASTER" "$MASTER_V1"
rsync -a --delete "$V2/" "$SRC/"
status=0; step "$BV" backup --repo "$MASTER" "$SRC" >>"$LOG" || status=$?
[ "$status" = 0 ] || [ "$status" = 3 ] || die "backup of v2 failed (status $status, $LOG)"
sync
tar -C "$CORPUS" -cf - v1 v2 | cat >/dev/null   # the same warm page cache for both tools

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }

# push_once MASTER REPLICA: sets SECS and BYTES.
push_once() {
    local started output
    sync
    started=$(now)
    output=$(step "$BV" push --repo "$1" --to "ssh://$USER_NAME@127.0.0.1:$PORT$2" \
        --ssh-command "$SSH_COMMAND" --remote-command "$BV" --json) || die "push of $1 to $2 failed ($LOG)"
    sync
    SECS=$(elapsed "$started" "$(now)")
    echo "$output" >>"$LOG"
    BYTES=$(python3 -c 'import json, sys; r = json.load(sys.stdin)[0]; print(r["bytes_sent"] + r["bytes_received"])' <<<"$output")
}

# rsync_once SOURCE DEST: sets SECS and BYTES.
rsync_once() {
    local started output
    sync
    started=$(now)
    output=$(step rsync -a --delete --stats -e "$RSYNC_SSH" "$1/" "$USER_NAME@127.0.0.1:$2/") || die "rsync of $1 to $2 failed ($LOG)"
    sync
    SECS=$(elapsed "$started" "$(now)")
    echo "$output" >>"$LOG"
    local sent received
    sent=$(awk -F': ' '/^Total bytes sent/ {gsub(/,/, "", $2); print $2}' <<<"$output")
    received=$(awk -F': ' '/^Total bytes received/ {gsub(/,/, "", $2); print $2}' <<<"$output")
    [ -n "$sent" ] && [ -n "$received" ] || die "no byte counts in rsync --stats ($LOG)"
    BYTES=$((sent + received))
}

declare -A SAMPLES   # "tool scenario metric" -> space-separated values
sample() { SAMPLES["$1 $2 $3"]="${SAMPLES["$1 $2 $3"]:-} $4"; }

run_blockvault() {
    local replica=$DIR/replica
    rm -rf "$replica"
    step "$BV" init --repo "$replica" --receive-only >>"$LOG"
    push_once "$MASTER_V1" "$replica"; sample blockvault initial s "$SECS"; sample blockvault initial bytes "$BYTES"
    printf ' blockvault %6.2fs' "$SECS"
    push_once "$MASTER" "$replica"; sample blockvault incremental s "$SECS"; sample blockvault incremental bytes "$BYTES"
    printf ' +%6.2fs' "$SECS"
    # The replica must mirror the master (same snapshots, the master's sequence numbers).
    [ "$("$BV" snapshots --repo "$replica" --json)" = "$("$BV" snapshots --repo "$MASTER" --json)" ] \
        || die "the replica's snapshots differ from the master's"
    [ "$KEEP" = 1 ] || rm -rf "$replica"
}

run_rsync() {
    local dest=$DIR/rsync-dest
    rm -rf "$dest"
    mkdir -p "$dest"
    rsync_once "$V1" "$dest"; sample rsync initial s "$SECS"; sample rsync initial bytes "$BYTES"
    printf ' rsync %6.2fs' "$SECS"
    rsync_once "$V2" "$dest"; sample rsync incremental s "$SECS"; sample rsync incremental bytes "$BYTES"
    printf ' +%6.2fs' "$SECS"
    [ "$KEEP" = 1 ] || rm -rf "$dest"
}

started=$SECONDS
for ((rep = 1; rep <= REPS; rep++)); do
    printf '  replication rep %d/%d:' "$rep" "$REPS"
    if ((rep % 2 == 1)); then run_blockvault; run_rsync; else run_rsync; run_blockvault; fi
    printf '\n'
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
megabytes() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1e6}'; }
files_line() { printf '%s files, %s MB' "$(find "$1" -type f | wc -l)" "$(megabytes "$(du -sb "$1" | cut -f1)")"; }

say ""
say "== Replication over ssh on 127.0.0.1: blockvault push vs rsync -a --delete (medians of $REPS) =="
say "corpus $(basename "$CORPUS"): v1 $(files_line "$V1"); v2 $(files_line "$V2")"
say "initial: push of a master holding v1 into a fresh replica / rsync of v1 into an empty dir;"
say "incremental: push after the master's backup of v2 / rsync of v2 over v1. Bytes: both directions"
say "of the ssh session's payload (blockvault sends blocks zstd-compressed as stored; rsync runs without -z)."
say "Seconds: the command plus a sync after it (blockvault fsyncs its packs, rsync does not fsync)."
say "$(printf '%-12s %10s %10s %6s   %12s %12s %6s' scenario 'bv s' 'rsync s' ratio 'bv MB' 'rsync MB' ratio)"
for scenario in initial incremental; do
    bs=$(median "${SAMPLES["blockvault $scenario s"]}")
    rs=$(median "${SAMPLES["rsync $scenario s"]}")
    bb=$(median "${SAMPLES["blockvault $scenario bytes"]}")
    rb=$(median "${SAMPLES["rsync $scenario bytes"]}")
    say "$(printf '%-12s %10.2f %10.2f %6s   %12s %12s %6s' "$scenario" "$bs" "$rs" "$(ratio "$bs" "$rs")" \
        "$(megabytes "$bb")" "$(megabytes "$rb")" "$(ratio "$bb" "$rb")")"
done
say "(ratio = blockvault / rsync; replication benchmark took $((SECONDS - started)) s after a $(megabytes "$(du -sb "$MASTER" | cut -f1)") MB master was prepared)"
