#!/usr/bin/env bash
# blockvault benchmark: primitives, then blockvault against restic and borg on the same corpora
# (docs, binaries, bigfile), the machine's limit for each, a scale run on many small files, and
# replication against rsync. Run through `make bench` (which builds the release binaries first).
# See docs/BENCHMARKS.md.
#
# Environment:
#   BENCH_REPS=5        repetitions of the tool scenarios (each with fresh vaults)
#   BENCH_QUICK=1       small corpora, 64 MiB primitive files, 20000 scale files, 1 repetition
#                       unless BENCH_REPS is set too
#   BENCH_CORPORA="..." which corpora to run (default "docs binaries bigfile"; "" for none)
#   BENCH_KEEP=1        keep vaults, restored trees, src and the primitive files in bench-work/
#   BENCH_TOOLS="..."   which tools to run (default "blockvault restic borg")
#   BENCH_BASELINE=BIN  another blockvault binary (e.g. the release build of an earlier commit),
#                       run as tool "baseline" in the same rotation: a before/after comparison in
#                       one interleaved run (bv/base column)
#   BENCH_TIMEOUT=1800  seconds after which one step (backup, restore) is killed and the run fails
#   BENCH_SCALE=1       the scale scenario (0 skips it); BENCH_SCALE_FILES=1000000 files,
#                       BENCH_SCALE_REPS=1 repetitions, BENCH_SCALE_TOOLS="blockvault restic"
#   BENCH_INDEX=1       block-index lookups in catalogs of 10^6 and 10^7 blocks (quick: 10^5
#                       and 10^6; 0 skips it)
#   BENCH_REPLICATION=1 then blockvault push against rsync, both over ssh on loopback
#                       (scripts/bench-replication.sh; 0 skips it)
# Everything happens in bench-work/ under the repository root. The corpora are cached there
# across runs; the summary is written to bench-work/results.txt, tool output to bench-work/logs/.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
WORK=$ROOT/bench-work
SCRIPTS=$ROOT/scripts
BV=$ROOT/.build/release/blockvault
PRIMITIVES=$ROOT/.build/release/blockvault-primitives-bench

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${BENCH_REPS:-1}; else REPS=${BENCH_REPS:-5}; fi
KEEP=${BENCH_KEEP:-0}
TOOLS=${BENCH_TOOLS:-"blockvault restic borg"}
BASELINE=${BENCH_BASELINE:-}
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE" ] || { echo "bench: BENCH_BASELINE=$BASELINE is not an executable blockvault binary" >&2; exit 2; }
    BASELINE=$(cd "$(dirname "$BASELINE")" && pwd -P)/$(basename "$BASELINE")
    [[ " $TOOLS " == *" baseline "* ]] || TOOLS="$TOOLS baseline"
fi
STEP_TIMEOUT=${BENCH_TIMEOUT:-1800}
CORPORA=${BENCH_CORPORA-"docs binaries bigfile"}
SCALE=${BENCH_SCALE:-1}
if [ "$QUICK" = 1 ]; then SCALE_FILES=${BENCH_SCALE_FILES:-20000}; else SCALE_FILES=${BENCH_SCALE_FILES:-1000000}; fi
SCALE_REPS=${BENCH_SCALE_REPS:-1}
SCALE_TOOLS=${BENCH_SCALE_TOOLS:-"blockvault restic"}

die() { echo "bench: error: $*" >&2; exit 1; }

[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer (got '$REPS')"
[[ "$STEP_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer"
read -r -a TOOL_LIST <<<"$TOOLS"
[ "${#TOOL_LIST[@]}" -gt 0 ] || die "BENCH_TOOLS is empty"
for tool in "${TOOL_LIST[@]}"; do
    case $tool in
        blockvault|restic|borg) ;;
        baseline) [ -n "$BASELINE" ] || die "tool 'baseline' needs BENCH_BASELINE=/path/to/blockvault" ;;
        *) die "unknown tool '$tool' in BENCH_TOOLS" ;;
    esac
done
uses() { [[ " ${TOOL_LIST[*]} " == *" $1 "* ]]; }
read -r -a CORPUS_LIST <<<"$CORPORA"
for corpus in "${CORPUS_LIST[@]}"; do
    case $corpus in docs|binaries|bigfile) ;; *) die "unknown corpus '$corpus' in BENCH_CORPORA (docs, binaries, bigfile)" ;; esac
done
[[ "$SCALE_FILES" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE_FILES must be a positive integer (got '$SCALE_FILES')"
[[ "$SCALE_REPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE_REPS must be a positive integer (got '$SCALE_REPS')"
# The scale run uses the tools of BENCH_SCALE_TOOLS that BENCH_TOOLS has too, in BENCH_TOOLS' order.
SCALE_TOOL_LIST=()
for tool in "${TOOL_LIST[@]}"; do
    [[ " $SCALE_TOOLS " == *" $tool "* ]] && SCALE_TOOL_LIST+=("$tool")
done

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

[ -x "$PRIMITIVES" ] || die "$PRIMITIVES not found; run 'make bench'"
if uses blockvault; then
    [ -x "$BV" ] || die "$BV not found; run 'make bench'"
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
say "repetitions $REPS, quick $QUICK, tools: ${TOOL_LIST[*]}, corpora: ${CORPUS_LIST[*]}, scale: $([ "$SCALE" = 1 ] && echo "$SCALE_FILES files, ${SCALE_TOOL_LIST[*]}" || echo off)"
uses blockvault && say "blockvault $("$BV" --version 2>/dev/null || echo '?')"
uses baseline && say "baseline: $BASELINE, blockvault $("$BASELINE" --version 2>/dev/null || echo '?')"
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

# Block index: the catalog point query a backup makes per block, in catalogs of growing size.
if [ "${BENCH_INDEX:-1}" = 1 ]; then
    if [ "$QUICK" = 1 ]; then INDEX_SIZES="100000 1000000"; else INDEX_SIZES="1000000 10000000"; fi
    heading "Block index: Catalog.hasBlock in a catalog of N blocks (one core, catalog in the page cache)"
    INDEX_DB=$WORK/index-bench.db
    for blocks in $INDEX_SIZES; do
        timeout "$STEP_TIMEOUT" "$PRIMITIVES" --index-build "$blocks" "$INDEX_DB" | tee -a "$RESULTS"
        line=$(/usr/bin/time -f "%M" -o "$WORK/index-bench.rss" timeout "$STEP_TIMEOUT" "$PRIMITIVES" --index-lookup "$blocks" "$INDEX_DB")
        say "$line; peak RSS of the lookups $(($(cat "$WORK/index-bench.rss") / 1024)) MB"
        rm -f "$INDEX_DB" "$INDEX_DB-wal" "$INDEX_DB-shm" "$WORK/index-bench.rss"
    done
fi

# ---------------------------------------------------------------------------------------------
# Corpora: built once and cached in bench-work/ (scripts/bench-corpora.sh).
# shellcheck source=scripts/bench-corpora.sh
source "$SCRIPTS/bench-corpora.sh"
declare -A CORPUS_DIRS
for corpus in "${CORPUS_LIST[@]}"; do
    build_corpus "$corpus"
    CORPUS_DIRS[$corpus]=$CORPUS_DIR
done
if [ "$SCALE" = 1 ] && [ "${#SCALE_TOOL_LIST[@]}" -gt 0 ]; then
    build_corpus scale
    SCALE_DIR=$CORPUS_DIR
fi

# file_bytes DIR: the sum of the sizes of the regular files under DIR.
file_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d\n", s}'; }

corpus_line() {
    local files bytes
    files=$(find "$1" -type f | wc -l)
    bytes=$(du -sb "$1" | cut -f1)
    printf '%s files, %s MB (du -sb)' "$files" "$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b/1e6}')"
}
heading "Corpora"
for corpus in "${CORPUS_LIST[@]}"; do
    dir=${CORPUS_DIRS[$corpus]}
    say "$corpus v1: $(corpus_about "$corpus" "$dir"): $(corpus_line "$dir/v1")"
    say "$corpus v2: v1 after seeded edits: $(corpus_line "$dir/v2"); $(cat "$dir/edits.txt")"
done
if [ -n "${SCALE_DIR:-}" ]; then
    say "scale: $(cat "$SCALE_DIR/about.txt") (0-4 KiB each, seeded), backed up from where it is"
fi

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

# tool_command TOOL ACTION VAULT [SOURCE N | TARGET]: prints the command line, one word a line.
# backup takes the source directory and the backup's number, restore the target directory.
tool_command() {
    local tool=$1 action=$2 vault=$3 arg=${4:-} number=${5:-}
    # The baseline is blockvault run from another binary.
    if [ "$tool" = baseline ]; then BV=$BASELINE tool_command blockvault "${@:2}"; return; fi
    case $tool:$action in
        blockvault:init) printf '%s\n' "$BV" init --repo "$vault" ;;
        blockvault:backup) printf '%s\n' "$BV" backup --repo "$vault" "$arg" ;;
        blockvault:restore) printf '%s\n' "$BV" restore --repo "$vault" --target "$arg" latest ;;
        restic:init) printf '%s\n' restic -r "$vault" init ;;
        restic:backup) printf '%s\n' restic -r "$vault" backup --quiet "$arg" ;;
        restic:restore) printf '%s\n' restic -r "$vault" restore latest --target "$arg" ;;
        borg:init) printf '%s\n' borg init --encryption=none "$vault" ;;
        borg:backup) printf '%s\n' borg create --compression zstd,3 "$vault::s$number" "$arg" ;;
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
    case $1:$2 in blockvault:3|baseline:3|restic:3|borg:1) return 0 ;; *) return 1 ;; esac
}

# run_step TOOL STEP DIR CWD LOG TIMED(0|1) ACTION VAULT [ARG...]: runs one tool command (DIR is
# the run directory). Every step starts with a `sync`, outside the timing, so it never pays for
# the previous step's dirty pages; no sync follows it. When timed, sets LAST_SECONDS and
# LAST_RSS (KiB), LAST_USER and LAST_SYSTEM (CPU seconds). Fails the benchmark on an error or a
# timeout.
LAST_SECONDS=0
LAST_RSS=0
LAST_USER=0
LAST_SYSTEM=0
run_step() {
    local tool=$1 step=$2 dir=$3 cwd=$4 log=$5 timed=$6; shift 6
    local -a command environment
    mapfile -t command < <(tool_command "$tool" "$@")
    mapfile -t environment < <(tool_env "$tool" "$dir")
    local timefile=$dir/$step.time status=0
    echo "\$ ${command[*]}   (step $step, cwd $cwd)" >>"$log"
    sync
    # The executable read whole first: a binary only partly in the page cache maps fewer of its
    # pages (the kernel maps cached neighbours of each faulted page), so a freshly linked build
    # showed a larger peak RSS than an older copy of the same code.
    cat "$(command -v "${command[0]}" 2>/dev/null || echo "${command[0]}")" >/dev/null 2>&1 || true
    if [ "$timed" = 1 ]; then
        (cd "$cwd" && env "${environment[@]}" /usr/bin/time -f '%e %M %U %S' -o "$timefile" \
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
        read -r LAST_SECONDS LAST_RSS LAST_USER LAST_SYSTEM < <(tail -n 1 "$timefile")
    fi
}

# record CORPUS REP TOOL METRIC VALUE: one line of raw.tsv (bench-report.py reads it).
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }

# make_source V: makes $SRC equal to V (mtimes kept), flushes it and reads it once.
make_source() {
    mkdir -p "$SRC"
    rsync -a --delete "$1/" "$SRC/"
    sync
    tar -C "$SRC" -cf - . | cat >/dev/null
}

# record_timed CORPUS REP TOOL STEP: records the last timed step's wall and CPU seconds and RSS.
record_timed() {
    record "$1" "$2" "$3" "${4}_s" "$LAST_SECONDS"
    record "$1" "$2" "$3" "${4}_rss" "$LAST_RSS"
    record "$1" "$2" "$3" "${4}_user" "$LAST_USER"
    record "$1" "$2" "$3" "${4}_sys" "$LAST_SYSTEM"
}

# backup_step CORPUS REP TOOL DIR LOG VAULT SOURCE N: timed backup number N, recorded as bN.
backup_step() {
    local corpus=$1 rep=$2 tool=$3 dir=$4 log=$5 vault=$6 source=$7 n=$8
    run_step "$tool" "b$n" "$dir" "$dir" "$log" 1 backup "$vault" "$source" "$n"
    record_timed "$corpus" "$rep" "$tool" "b$n"
    record "$corpus" "$rep" "$tool" "size_b$n" "$(du -sb "$vault" | cut -f1)"
    printf ' b%s %6.2fs' "$n" "$LAST_SECONDS"
}

# scenario CORPUS REP TOOL: fresh vault; backup v1, backup again, backup v2, restore, check;
# for docs also check --read-data, forget and prune.
scenario() {
    local corpus=$1 rep=$2 tool=$3 corpus_dir=${CORPUS_DIRS[$1]}
    local dir=$RUN/$corpus/rep$rep/$tool log=$WORK/logs/$corpus-rep$rep-$tool.log
    local vault=$dir/vault target=$dir/restore
    rm -rf "$dir"
    mkdir -p "$dir"
    : >"$log"
    printf '  %-8s rep %d/%d %-10s' "$corpus" "$rep" "$REPS" "$tool"
    make_source "$corpus_dir/v1"
    run_step "$tool" init "$dir" "$dir" "$log" 0 init "$vault"
    backup_step "$corpus" "$rep" "$tool" "$dir" "$log" "$vault" "$SRC" 1
    backup_step "$corpus" "$rep" "$tool" "$dir" "$log" "$vault" "$SRC" 2
    make_source "$corpus_dir/v2"
    backup_step "$corpus" "$rep" "$tool" "$dir" "$log" "$vault" "$SRC" 3

    mkdir -p "$target"
    run_step "$tool" restore "$dir" "$target" "$log" 1 restore "$vault" "$target"
    record_timed "$corpus" "$rep" "$tool" restore
    printf ' restore %6.2fs' "$LAST_SECONDS"

    # restic and borg restore the absolute path of src inside the target; blockvault restores
    # the directory's contents directly into the target (docs/CLI.md).
    local restored=$target
    case $tool in blockvault|baseline) ;; *) restored=$target$SRC ;; esac
    local check status=0
    check=$(python3 "$SCRIPTS/bench-tree.py" compare "$corpus_dir/v2.manifest.json" "$restored") || status=$?
    echo "restore check: $check" >>"$log"
    if [ "$status" = 0 ]; then
        record "$corpus" "$rep" "$tool" verify 1
        printf ' check ok\n'
    else
        record "$corpus" "$rep" "$tool" verify 0
        printf ' check FAILED\n'
        say "WARNING: $tool $corpus rep $rep: the restored tree differs from v2: $check"
    fi

    if [ "$corpus" = docs ]; then
        # Lifecycle: read and verify every stored byte, then forget all but the last snapshot and prune.
        run_step "$tool" checkdata "$dir" "$dir" "$log" 1 checkdata "$vault"
        record "$corpus" "$rep" "$tool" checkdata_s "$LAST_SECONDS"
        printf '  %-30s check --read-data %6.2fs' "" "$LAST_SECONDS"
        run_step "$tool" forget "$dir" "$dir" "$log" 0 forget "$vault"
        run_step "$tool" prune "$dir" "$dir" "$log" 1 prune "$vault"
        record "$corpus" "$rep" "$tool" prune_s "$LAST_SECONDS"
        record "$corpus" "$rep" "$tool" size_pruned "$(du -sb "$vault" | cut -f1)"
        printf ' prune %6.2fs\n' "$LAST_SECONDS"
    fi
    if [ "$KEEP" != 1 ]; then
        # Restored trees are set aside, not deleted, until the run ends: ext4 scans recently freed
        # inodes when it allocates new ones, so deleting 33,000 files makes the next tool's restore
        # (20 to 60 s later) several times slower, and which tool that hits depends on the rotation.
        mv "$target" "$TRASH/$corpus-rep$rep-$tool"
        rm -rf "$dir"
    fi
}

# scale_scenario REP TOOL: fresh vault; backup of the scale tree where it is, then again unchanged.
scale_scenario() {
    local rep=$1 tool=$2
    local dir=$RUN/scale/rep$rep/$tool log=$WORK/logs/scale-rep$rep-$tool.log
    local vault=$dir/vault
    rm -rf "$dir"
    mkdir -p "$dir"
    : >"$log"
    printf '  %-8s rep %d/%d %-10s' scale "$rep" "$SCALE_REPS" "$tool"
    run_step "$tool" init "$dir" "$dir" "$log" 0 init "$vault"
    backup_step scale "$rep" "$tool" "$dir" "$log" "$vault" "$SCALE_DIR/tree" 1
    backup_step scale "$rep" "$tool" "$dir" "$log" "$vault" "$SCALE_DIR/tree" 2
    printf '\n'
    [ "$KEEP" = 1 ] || rm -rf "$dir"
}

# machine_limit CORPUS DIR: SHA-256 + zstd -3 of every block of DIR (in the vault's frames) on two threads, recorded.
machine_limit() {
    local line key value
    line=$(timeout "$STEP_TIMEOUT" "$PRIMITIVES" --limit --threads 2 "$2") || die "the machine-limit measurement failed on $2"
    for pair in $line; do
        key=${pair%%=*}
        value=${pair#*=}
        record "$1" 0 - "limit_$key" "$value"
    done
}

# in_rotation REPS "TOOL..." COMMAND...: runs `COMMAND... REP TOOL` for every repetition and
# tool, the tools' order rotated by one from one repetition to the next.
in_rotation() {
    local reps=$1 rep i
    local -a tools
    read -r -a tools <<<"$2"
    shift 2
    for ((rep = 1; rep <= reps; rep++)); do
        for ((i = 0; i < ${#tools[@]}; i++)); do
            "$@" "$rep" "${tools[$(((i + rep - 1) % ${#tools[@]}))]}"
        done
    done
}

heading "Scenarios"
say "each repetition, for each corpus and tool (tool order rotated per repetition), with a fresh vault:"
say "  src := v1 (rsync -a --delete); init; backup 1; backup 2 (no change);"
say "  src := v2; backup 3; restore latest into an empty dir; check it equals v2;"
say "  docs only: check --read-data (borg: check --verify-data); forget --keep-last 1 (untimed); prune (borg: compact)."
say "scale: init; backup of the tree; backup again (no change); $SCALE_REPS repetition(s), tools: ${SCALE_TOOL_LIST[*]:-none}."
say "blockvault: defaults (no encryption). restic: defaults (encrypted, repo v2, compression auto)."
say "borg: --encryption=none, --compression zstd,3. Timing: /usr/bin/time wall seconds, peak RSS;"
say "every timed step (restore too) starts after an untimed sync and is timed alone, with no sync after it;"
say "restored trees are deleted only after the last restore (ext4 slows inode allocation after deletions)."
say "machine limit: SHA-256 + zstd -3 of every FastCDC block of v1, in the vault's 2 MiB frames, in memory, on two threads (best of 3 runs)."
rm -rf "$RUN"
TRASH=$RUN/trash
mkdir -p "$TRASH"
for corpus in "${CORPUS_LIST[@]}"; do
    dir=${CORPUS_DIRS[$corpus]}
    record "$corpus" 0 - files "$(find "$dir/v1" -type f | wc -l)"
    record "$corpus" 0 - bytes "$(file_bytes "$dir/v1")"
    # Read both versions once so every tool starts with the same warm page cache.
    tar -C "$dir" -cf - v1 v2 | cat >/dev/null
    if uses blockvault; then machine_limit "$corpus" "$dir/v1"; fi
    in_rotation "$REPS" "${TOOL_LIST[*]}" scenario "$corpus"
done
[ "$KEEP" = 1 ] || rm -rf "$TRASH"
if [ -n "${SCALE_DIR:-}" ]; then
    record scale 0 - files "$SCALE_FILES"
    record scale 0 - bytes "$(file_bytes "$SCALE_DIR/tree")"
    echo "bench: reading the scale tree once (warm page cache)"
    tar -C "$SCALE_DIR" -cf - tree | cat >/dev/null
    in_rotation "$SCALE_REPS" "${SCALE_TOOL_LIST[*]}" scale_scenario
fi

heading "Results"
python3 "$SCRIPTS/bench-report.py" "$RAW" | tee -a "$RESULTS"

# Replication: push to a receive-only replica against rsync, both over ssh to a private sshd.
if [ "${BENCH_REPLICATION:-1}" = 1 ] && uses blockvault && [ -n "${CORPUS_DIRS[docs]:-}" ]; then
    BENCH_CORPUS=${CORPUS_DIRS[docs]} BENCH_RESULTS=$RESULTS BENCH_TIMEOUT=$STEP_TIMEOUT BENCH_REPLICATION_REPS=${BENCH_REPLICATION_REPS:-$REPS} \
        bash "$SCRIPTS/bench-replication.sh"
fi

if [ "$KEEP" = 1 ]; then
    say "BENCH_KEEP=1: kept $SRC, $RUN and the primitive data files"
else
    rm -rf "$SRC" "$RUN" "$REAL" "$RANDOM_FILE"
fi
say ""
say "total $((SECONDS - started)) s; summary in ${RESULTS#"$ROOT"/}, tool output in bench-work/logs/;"
caches=()
for corpus in "${CORPUS_LIST[@]}"; do caches+=("${CORPUS_DIRS[$corpus]}"); done
[ -n "${SCALE_DIR:-}" ] && caches+=("$SCALE_DIR")
if [ "${#caches[@]}" -gt 0 ]; then
    say "corpus caches kept in bench-work ($(du -shc "${caches[@]}" | tail -n 1 | cut -f1)); rm -rf bench-work/corpus* to reclaim them"
fi
