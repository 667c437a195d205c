#!/usr/bin/env bash
# blockvault benchmark: primitives, then blockvault against restic and borg on the same corpus.
# Run through `make bench` (which builds the release binaries first). See docs/BENCHMARKS.md.
#
# Environment:
#   BENCH_REPS=3        repetitions of the tool scenarios (each with fresh vaults)
#   BENCH_QUICK=1       small corpus (/usr/share/doc only), 64 MiB primitive files, 1 repetition
#                       unless BENCH_REPS is set too
#   BENCH_KEEP=1        keep vaults, restored trees, src and the primitive files in bench-work/
#   BENCH_TOOLS="..."   which tools to run (default "blockvault restic borg")
#   BENCH_TIMEOUT=1800  seconds after which one step (backup, restore) is killed and the run fails
#   BENCH_REPLICATION=1 then blockvault push against rsync, both over ssh on loopback
#                       (scripts/bench-replication.sh; 0 skips it)
# Everything happens in bench-work/ under the repository root. The corpus (v1, v2) is cached
# there across runs; the summary is written to bench-work/results.txt, tool output to
# bench-work/logs/.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
WORK=$ROOT/bench-work
SCRIPTS=$ROOT/scripts
BV=$ROOT/.build/release/blockvault
PRIMITIVES=$ROOT/.build/release/blockvault-primitives-bench

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${BENCH_REPS:-1}; else REPS=${BENCH_REPS:-3}; fi
KEEP=${BENCH_KEEP:-0}
TOOLS=${BENCH_TOOLS:-"blockvault restic borg"}
STEP_TIMEOUT=${BENCH_TIMEOUT:-1800}

die() { echo "bench: error: $*" >&2; exit 1; }

[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer (got '$REPS')"
[[ "$STEP_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer"
read -r -a TOOL_LIST <<<"$TOOLS"
[ "${#TOOL_LIST[@]}" -gt 0 ] || die "BENCH_TOOLS is empty"
for tool in "${TOOL_LIST[@]}"; do
    case $tool in blockvault|restic|borg) ;; *) die "unknown tool '$tool' in BENCH_TOOLS" ;; esac
done
uses() { [[ " ${TOOL_LIST[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Dependencies: restic, borg, GNU time, rsync from Debian; python3 is assumed.
missing=()
if uses restic && ! command -v restic >/dev/null; then missing+=(restic); fi
if uses borg && ! command -v borg >/dev/null; then missing+=(borgbackup); fi
[ -x /usr/bin/time ] || missing+=(time)
command -v rsync >/dev/null || missing+=(rsync)
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "bench: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
command -v python3 >/dev/null || die "python3 is required"

[ -x "$PRIMITIVES" ] || die "$PRIMITIVES not found; run 'swift build -c release' (make bench does)"
if uses blockvault; then
    [ -x "$BV" ] || die "$BV not found; run 'swift build -c release' (make bench does)"
    for command in init backup restore; do
        if ! timeout 30 "$BV" "$command" --help </dev/null >/dev/null 2>&1; then
            die "this blockvault binary has no working '$command' command ('blockvault $command --help' failed).
  Build a version that implements docs/CLI.md, or run only the other tools: BENCH_TOOLS=\"restic borg\" make bench"
        fi
    done
fi

mkdir -p "$WORK" "$WORK/logs"
RESULTS=$WORK/results.txt
RAW=$WORK/raw.tsv
: >"$RESULTS"
: >"$RAW"
# say: prints to the terminal and to results.txt.
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
heading() { say ""; say "== $* =="; }

started=$SECONDS
heading "blockvault benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
say "repetitions $REPS, quick $QUICK, tools: ${TOOL_LIST[*]}"
uses blockvault && say "blockvault $("$BV" --version 2>/dev/null || echo '?')"
uses restic && say "$(restic version)"
uses borg && say "$(borg --version)"

# ---------------------------------------------------------------------------------------------
# Primitives: SHA-256, FastCDC and zstd throughput on real and random data.
if [ "$QUICK" = 1 ]; then PRIM_MIB=64; else PRIM_MIB=256; fi
PRIM_BYTES=$((PRIM_MIB * 1024 * 1024))
REAL=$WORK/primitives-real.bin
RANDOM_FILE=$WORK/primitives-random.bin
if [ "$(stat -c %s "$REAL" 2>/dev/null || echo 0)" != "$PRIM_BYTES" ]; then
    { tar -cf - /usr/share/doc /usr/include /usr/share/man /usr/lib/python3* 2>/dev/null || true; } \
        | head -c "$PRIM_BYTES" >"$REAL"
    [ "$(stat -c %s "$REAL")" = "$PRIM_BYTES" ] || die "could not collect $PRIM_MIB MiB of real data"
fi
if [ "$(stat -c %s "$RANDOM_FILE" 2>/dev/null || echo 0)" != "$PRIM_BYTES" ]; then
    head -c "$PRIM_BYTES" /dev/urandom >"$RANDOM_FILE"
fi
heading "Primitives ($PRIM_MIB MiB each: tar of system docs/headers/python, and random bytes; one core)"
(cd "$WORK" && timeout "$STEP_TIMEOUT" "$PRIMITIVES" "$(basename "$REAL")" "$(basename "$RANDOM_FILE")") \
    | tee -a "$RESULTS"
if [ "$QUICK" != 1 ]; then
    # How the FastCDC sizes were chosen: dedup after small edits against blocks per GiB and speed.
    heading "FastCDC parameter sweep on the real data (one core)"
    (cd "$WORK" && timeout "$STEP_TIMEOUT" "$PRIMITIVES" --sweep-only "$(basename "$REAL")") | tee -a "$RESULTS"
fi

# ---------------------------------------------------------------------------------------------
# Corpus: v1 = copy of system directories, v2 = v1 with seeded edits. Cached while the stamp holds.
if [ "$QUICK" = 1 ]; then
    CORPUS=$WORK/corpus-quick; SOURCES=(/usr/share/doc); NEW_FILES=30
else
    CORPUS=$WORK/corpus; SOURCES=(/usr/share/doc /usr/share/man /usr/include); NEW_FILES=200
fi
V1=$CORPUS/v1
V2=$CORPUS/v2
MANIFEST=$CORPUS/v2.manifest.json
STAMP="sources=${SOURCES[*]} seed=42 new-files=$NEW_FILES edit=$(sha256sum "$SCRIPTS/bench-edit.py" | cut -c1-16) tree=$(sha256sum "$SCRIPTS/bench-tree.py" | cut -c1-16)"
if [ -f "$CORPUS/complete" ] && [ "$(cat "$CORPUS/complete")" = "$STAMP" ]; then
    echo "bench: reusing the corpus in $CORPUS"
else
    echo "bench: building the corpus in $CORPUS"
    rm -rf "$CORPUS"
    mkdir -p "$V1"
    for source in "${SOURCES[@]}"; do
        mkdir -p "$V1$(dirname "$source")"
        cp -a "$source" "$V1$(dirname "$source")/"
    done
    cp -a "$V1" "$V2"
    python3 "$SCRIPTS/bench-edit.py" "$V2" --seed 42 --new-files "$NEW_FILES" >"$CORPUS/edits.txt"
    python3 "$SCRIPTS/bench-tree.py" manifest "$V2" "$MANIFEST"
    sync
    echo "$STAMP" >"$CORPUS/complete"
fi
# Read both versions once so every tool starts with the same warm page cache.
tar -C "$CORPUS" -cf - v1 v2 | cat >/dev/null

corpus_line() {
    local files bytes
    files=$(find "$1" -type f | wc -l)
    bytes=$(du -sb "$1" | cut -f1)
    printf '%s files, %s MB (du -sb)' "$files" "$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b/1e6}')"
}
heading "Corpus"
say "v1: copy of ${SOURCES[*]}: $(corpus_line "$V1")"
say "v2: v1 after seeded edits: $(corpus_line "$V2")"
say "$(cat "$CORPUS/edits.txt")"

# ---------------------------------------------------------------------------------------------
# Scenarios.
SRC=$WORK/src
RUN=$WORK/run

# tool_env TOOL DIR: the environment each tool runs with, one assignment a line (caches and
# borg's config/security dirs live inside the run directory, so every repetition starts cold).
tool_env() {
    case $1 in
        restic) printf '%s\n' RESTIC_PASSWORD=bench "RESTIC_CACHE_DIR=$2/restic-cache" ;;
        borg) printf '%s\n' "BORG_BASE_DIR=$2/borg-base" "BORG_CACHE_DIR=$2/borg-base/cache" \
            BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes ;;
    esac
}

# tool_command TOOL ACTION VAULT [N|TARGET]: prints the command line, one word a line.
tool_command() {
    local tool=$1 action=$2 vault=$3 arg=${4:-}
    case $tool:$action in
        blockvault:init) printf '%s\n' "$BV" init --repo "$vault" ;;
        blockvault:backup) printf '%s\n' "$BV" backup --repo "$vault" "$SRC" ;;
        blockvault:restore) printf '%s\n' "$BV" restore --repo "$vault" --target "$arg" latest ;;
        restic:init) printf '%s\n' restic -r "$vault" init ;;
        restic:backup) printf '%s\n' restic -r "$vault" backup --quiet "$SRC" ;;
        restic:restore) printf '%s\n' restic -r "$vault" restore latest --target "$arg" ;;
        borg:init) printf '%s\n' borg init --encryption=none "$vault" ;;
        borg:backup) printf '%s\n' borg create --compression zstd,3 "$vault::s$arg" "$SRC" ;;
        borg:restore) printf '%s\n' borg extract "$vault::s3" ;;
        blockvault:checkdata) printf '%s\n' "$BV" check --repo "$vault" --read-data ;;
        blockvault:forget) printf '%s\n' "$BV" forget --repo "$vault" --keep-last 1 ;;
        blockvault:prune) printf '%s\n' "$BV" prune --repo "$vault" ;;
        restic:checkdata) printf '%s\n' restic -r "$vault" check --read-data ;;
        restic:forget) printf '%s\n' restic -r "$vault" forget --keep-last 1 ;;
        restic:prune) printf '%s\n' restic -r "$vault" prune ;;
        borg:checkdata) printf '%s\n' borg check --verify-data "$vault" ;;
        borg:forget) printf '%s\n' borg prune --keep-last 1 "$vault" ;;
        borg:prune) printf '%s\n' borg compact "$vault" ;;
    esac
}

# Exit statuses that mean "finished with warnings" (snapshot recorded, some file unreadable).
warning_status() {
    case $1:$2 in blockvault:3|restic:3|borg:1) return 0 ;; *) return 1 ;; esac
}

# run_step TOOL STEP DIR CWD LOG TIMED(0|1) ACTION VAULT [ARG]: runs one tool command (DIR is
# the run directory); when timed, sets LAST_SECONDS and LAST_RSS (KiB). Fails the benchmark on
# an error or a timeout.
LAST_SECONDS=0
LAST_RSS=0
run_step() {
    local tool=$1 step=$2 dir=$3 cwd=$4 log=$5 timed=$6; shift 6
    local -a command environment
    mapfile -t command < <(tool_command "$tool" "$@")
    mapfile -t environment < <(tool_env "$tool" "$dir")
    local timefile=$dir/$step.time status=0
    echo "\$ ${command[*]}   (step $step, cwd $cwd)" >>"$log"
    sync
    if [ "$timed" = 1 ]; then
        (cd "$cwd" && env "${environment[@]}" /usr/bin/time -f '%e %M' -o "$timefile" \
            timeout -k 30 "$STEP_TIMEOUT" "${command[@]}") </dev/null >>"$log" 2>&1 || status=$?
    else
        (cd "$cwd" && env "${environment[@]}" timeout -k 30 "$STEP_TIMEOUT" "${command[@]}") \
            </dev/null >>"$log" 2>&1 || status=$?
    fi
    if [ "$status" != 0 ]; then
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then
            echo >&2
            tail -n 5 "$log" >&2
            die "$tool $step timed out after $STEP_TIMEOUT s ($log)"
        elif warning_status "$tool" "$status"; then
            echo >&2
            echo "bench: warning: $tool $step exited with status $status (finished with warnings, see $log)" | tee -a "$RESULTS" >&2
        else
            echo >&2
            tail -n 10 "$log" >&2
            die "$tool $step failed with exit status $status: ${command[*]} (full output: $log)"
        fi
    fi
    if [ "$timed" = 1 ]; then
        read -r LAST_SECONDS LAST_RSS < <(tail -n 1 "$timefile")
    fi
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

# make_source V: makes $SRC equal to V (mtimes kept), flushes it and reads it once.
make_source() {
    mkdir -p "$SRC"
    rsync -a --delete "$1/" "$SRC/"
    sync
    tar -C "$SRC" -cf - . | cat >/dev/null
}

# scenario REP TOOL: fresh vault; backup v1, backup again, backup v2, restore, check.
scenario() {
    local rep=$1 tool=$2
    local dir=$RUN/rep$rep/$tool
    local vault=$dir/vault target=$dir/restore log=$WORK/logs/rep$rep-$tool.log
    rm -rf "$dir"
    mkdir -p "$dir"
    : >"$log"
    printf '  rep %d/%d %-10s' "$rep" "$REPS" "$tool"
    make_source "$V1"
    run_step "$tool" init "$dir" "$dir" "$log" 0 init "$vault"

    local n step
    for n in 1 2 3; do
        step=b$n
        [ "$n" = 3 ] && make_source "$V2"
        run_step "$tool" "$step" "$dir" "$dir" "$log" 1 backup "$vault" "$n"
        record "$rep" "$tool" "${step}_s" "$LAST_SECONDS"
        record "$rep" "$tool" "${step}_rss" "$LAST_RSS"
        record "$rep" "$tool" "size_$step" "$(du -sb "$vault" | cut -f1)"
        printf ' %s %6.1fs' "$step" "$LAST_SECONDS"
    done

    mkdir -p "$target"
    run_step "$tool" restore "$dir" "$target" "$log" 1 restore "$vault" "$target"
    record "$rep" "$tool" restore_s "$LAST_SECONDS"
    record "$rep" "$tool" restore_rss "$LAST_RSS"
    printf ' restore %6.1fs' "$LAST_SECONDS"

    # restic and borg restore the absolute path of src inside the target; blockvault restores
    # the directory's contents directly into the target (docs/CLI.md).
    local restored=$target
    [ "$tool" = blockvault ] || restored=$target$SRC
    local check status=0
    check=$(python3 "$SCRIPTS/bench-tree.py" compare "$MANIFEST" "$restored") || status=$?
    echo "restore check: $check" >>"$log"
    if [ "$status" = 0 ]; then
        record "$rep" "$tool" verify 1
        printf ' check ok\n'
    else
        record "$rep" "$tool" verify 0
        printf ' check FAILED\n'
        say "WARNING: $tool rep $rep: the restored tree differs from v2: $check"
    fi

    # Lifecycle: read and verify every stored byte, then forget all but the last snapshot and prune.
    run_step "$tool" checkdata "$dir" "$dir" "$log" 1 checkdata "$vault"
    record "$rep" "$tool" checkdata_s "$LAST_SECONDS"
    printf '  %-10s check --read-data %6.1fs' "" "$LAST_SECONDS"
    run_step "$tool" forget "$dir" "$dir" "$log" 0 forget "$vault"
    run_step "$tool" prune "$dir" "$dir" "$log" 1 prune "$vault"
    record "$rep" "$tool" prune_s "$LAST_SECONDS"
    record "$rep" "$tool" size_pruned "$(du -sb "$vault" | cut -f1)"
    printf ' prune %6.1fs\n' "$LAST_SECONDS"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

heading "Scenarios"
say "each repetition, for each tool (order rotated per repetition), with a fresh vault:"
say "  src := v1 (rsync -a --delete); init; backup 1; backup 2 (no change);"
say "  src := v2; backup 3; restore latest into an empty dir; check it equals v2;"
say "  check --read-data (borg: check --verify-data); forget --keep-last 1 (untimed); prune (borg: compact)."
say "blockvault: defaults (no encryption). restic: defaults (encrypted, repo v2, compression auto)."
say "borg: --encryption=none, --compression zstd,3. Timing: /usr/bin/time wall seconds, peak RSS."
rm -rf "$RUN"
for ((rep = 1; rep <= REPS; rep++)); do
    count=${#TOOL_LIST[@]}
    for ((i = 0; i < count; i++)); do
        scenario "$rep" "${TOOL_LIST[$(((i + rep - 1) % count))]}"
    done
done

heading "Results"
python3 "$SCRIPTS/bench-report.py" "$RAW" | tee -a "$RESULTS"

# Replication: push to a receive-only replica against rsync, both over ssh to a private sshd.
if [ "${BENCH_REPLICATION:-1}" = 1 ] && uses blockvault; then
    BENCH_CORPUS=$CORPUS BENCH_RESULTS=$RESULTS BENCH_TIMEOUT=$STEP_TIMEOUT BENCH_REPLICATION_REPS=${BENCH_REPLICATION_REPS:-$REPS} \
        bash "$SCRIPTS/bench-replication.sh"
fi

if [ "$KEEP" = 1 ]; then
    say "BENCH_KEEP=1: kept $SRC, $RUN and the primitive data files"
else
    rm -rf "$SRC" "$RUN" "$REAL" "$RANDOM_FILE"
fi
say ""
say "total $((SECONDS - started)) s; summary in ${RESULTS#"$ROOT"/}, tool output in bench-work/logs/;"
say "corpus cache kept in ${CORPUS#"$ROOT"/} ($(du -sh "$CORPUS" | cut -f1)); rm -rf bench-work to reclaim it"
