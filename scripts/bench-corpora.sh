# Sourced by scripts/bench.sh: builds (once, then cached) the benchmark corpora in bench-work/.
# Needs WORK, SCRIPTS, QUICK and die from bench.sh. Every corpus is a directory holding a stamp
# file `complete` (rebuilt when the stamp changes), a one-line description (corpus_about) and, for
# the backup scenarios, v1/, v2/ and v2.manifest.json (the restore check); the scale corpus holds
# tree/ instead. See docs/BENCHMARKS.md.

MIB=$((1024 * 1024))

# cached_corpus DIR STAMP BUILDER: runs `BUILDER DIR` in a fresh DIR unless DIR/complete holds STAMP.
cached_corpus() {
    local dir=$1 stamp=$2 builder=$3
    if [ -f "$dir/complete" ] && [ "$(cat "$dir/complete")" = "$stamp" ]; then
        echo "bench: reusing the corpus in $dir"
        return
    fi
    echo "bench: building the corpus in $dir"
    local started=$SECONDS
    rm -rf "$dir"
    mkdir -p "$dir"
    "$builder" "$dir"
    sync
    echo "$stamp" >"$dir/complete"
    echo "bench: built $dir in $((SECONDS - started)) s"
}

script_hash() { sha256sum "$SCRIPTS/$1" | cut -c1-16; }

# finish_v2 DIR: the manifest of v2 that the restore check compares against.
finish_v2() { python3 "$SCRIPTS/bench-tree.py" manifest "$1/v2" "$1/v2.manifest.json"; }

# docs: copies of documentation trees; v2 after seeded edits (bench-edit.py, seed 42).
if [ "$QUICK" = 1 ]; then
    DOCS_SOURCES=(/usr/share/doc); DOCS_NEW_FILES=30
else
    DOCS_SOURCES=(/usr/share/doc /usr/share/man /usr/include); DOCS_NEW_FILES=200
fi
build_docs() {
    local source
    mkdir -p "$1/v1"
    for source in "${DOCS_SOURCES[@]}"; do
        mkdir -p "$1/v1$(dirname "$source")"
        cp -a "$source" "$1/v1$(dirname "$source")/"
    done
    cp -a "$1/v1" "$1/v2"
    python3 "$SCRIPTS/bench-edit.py" "$1/v2" --seed 42 --new-files "$DOCS_NEW_FILES" >"$1/edits.txt"
    finish_v2 "$1"
}

# binaries: ELF files and static libraries of 1/512 to 1/8 of the total (bench-corpus.py
# pick-binaries), copied with their paths; v2 is a hard-linked copy after seeded edits
# (bench-edit.py, seed 43, which rewrites what it edits as new files, so v1 keeps its content).
if [ "$QUICK" = 1 ]; then BINARIES_BYTES=$((64 * MIB)); else BINARIES_BYTES=$((512 * MIB)); fi
BINARIES_DIRS=(/usr/lib /usr/bin /usr/sbin /usr/libexec)
SWIFT_LIB=""
if command -v swift >/dev/null; then SWIFT_LIB=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib; fi
build_binaries() {
    local -a toolchain=()
    [ -d "$SWIFT_LIB" ] && toolchain=(--shared-objects "$SWIFT_LIB")
    python3 "$SCRIPTS/bench-corpus.py" pick-binaries --bytes "$BINARIES_BYTES" --min $((BINARIES_BYTES / 512)) \
        --max $((BINARIES_BYTES / 8)) "${toolchain[@]}" "${BINARIES_DIRS[@]}" >"$1/files" 2>"$1/picked.txt" \
        || die "no binaries found under ${BINARIES_DIRS[*]} $SWIFT_LIB"
    mkdir -p "$1/v1"
    rsync -a --from0 --files-from="$1/files" / "$1/v1/"
    cp -al "$1/v1" "$1/v2"
    python3 "$SCRIPTS/bench-edit.py" "$1/v2" --seed 43 --new-files 4 >"$1/edits.txt"
    finish_v2 "$1"
    echo "ELF files and static libraries of $((BINARIES_BYTES / 512)) to $((BINARIES_BYTES / 8)) bytes from ${BINARIES_DIRS[*]}${SWIFT_LIB:+ and the .so files of $SWIFT_LIB}, in the order of the SHA-256 of their path ($(cat "$1/picked.txt"))" >"$1/about.txt"
}

# bigfile: one file, the first BIGFILE_MIB MiB of a tar (sorted by name) of documentation, headers,
# python and shared libraries; v2 has 8 seeded insertions of 100-500 bytes (bench-corpus.py insert).
if [ "$QUICK" = 1 ]; then BIGFILE_MIB=64; else BIGFILE_MIB=768; fi
BIGFILE_SOURCES=(/usr/share/doc /usr/include /usr/share/man /usr/lib/python3* /usr/lib/x86_64-linux-gnu)
build_bigfile() {
    mkdir -p "$1/v1" "$1/v2"
    { tar --sort=name -cf - "${BIGFILE_SOURCES[@]}" 2>/dev/null || true; } | head -c $((BIGFILE_MIB * MIB)) >"$1/v1/system.tar"
    [ "$(stat -c %s "$1/v1/system.tar")" = $((BIGFILE_MIB * MIB)) ] || die "could not collect $BIGFILE_MIB MiB for the bigfile corpus"
    python3 "$SCRIPTS/bench-corpus.py" insert "$1/v1/system.tar" "$1/v2/system.tar" --seed 44 --count 8 --min 100 --max 500 >"$1/edits.txt"
    finish_v2 "$1"
    echo "one file, the first $BIGFILE_MIB MiB of a tar of ${BIGFILE_SOURCES[*]}" >"$1/about.txt"
}

# scale: SCALE_FILES files of 0-4 KiB (seeded) in directories of 1000.
build_scale() {
    python3 "$SCRIPTS/bench-corpus.py" small-files "$1/tree" --files "$SCALE_FILES" --seed 45 --per-dir 1000 >"$1/about.txt"
}

# corpus_about NAME DIR: one line on what the corpus is.
corpus_about() {
    case $1 in
        docs) echo "copy of ${DOCS_SOURCES[*]}" ;;
        *) cat "$2/about.txt" ;;
    esac
}

# build_corpus NAME: builds or reuses corpus NAME; sets CORPUS_DIR.
build_corpus() {
    local suffix=""
    [ "$QUICK" = 1 ] && suffix=-quick
    case $1 in
        docs)
            CORPUS_DIR=$WORK/corpus$suffix
            cached_corpus "$CORPUS_DIR" "sources=${DOCS_SOURCES[*]} seed=42 new-files=$DOCS_NEW_FILES edit=$(script_hash bench-edit.py) tree=$(script_hash bench-tree.py)" build_docs ;;
        binaries)
            CORPUS_DIR=$WORK/corpus-binaries$suffix
            cached_corpus "$CORPUS_DIR" "dirs=${BINARIES_DIRS[*]} $SWIFT_LIB bytes=$BINARIES_BYTES seed=43 corpus=$(script_hash bench-corpus.py) edit=$(script_hash bench-edit.py) tree=$(script_hash bench-tree.py)" build_binaries ;;
        bigfile)
            CORPUS_DIR=$WORK/corpus-bigfile$suffix
            cached_corpus "$CORPUS_DIR" "sources=${BIGFILE_SOURCES[*]} mib=$BIGFILE_MIB seed=44 corpus=$(script_hash bench-corpus.py) tree=$(script_hash bench-tree.py)" build_bigfile ;;
        scale)
            CORPUS_DIR=$WORK/corpus-scale$suffix
            cached_corpus "$CORPUS_DIR" "files=$SCALE_FILES seed=45 corpus=$(script_hash bench-corpus.py)" build_scale ;;
        *) die "unknown corpus '$1'" ;;
    esac
}
