#!/usr/bin/env python3
"""Prints the benchmark's per-repetition numbers and, per corpus, its summary table with the
ratios against restic and borg and a PASS/MISS mark against each target of issue 6.

Usage: bench-report.py RAW.tsv

RAW.tsv has one measurement a line: CORPUS TAB REP TAB TOOL TAB METRIC TAB VALUE, where METRIC is
  b1_s b2_s b3_s restore_s            wall seconds (initial, no-change, edited backup; restore)
  b1_rss b2_rss b3_rss restore_rss    peak RSS in KiB (from /usr/bin/time %M)
  b1_user ... restore_sys             user and system CPU seconds of the same steps (not printed:
                                      for reading noise, e.g. a restore slowed in the kernel)
  size_b1 size_b2 size_b3             vault size in bytes (du -sb) after each backup
  verify                              1 if the restored tree equals v2, else 0
  checkdata_s prune_s                 wall seconds of check --read-data and of prune after forget --keep-last 1
  size_pruned                         vault size in bytes after that prune
Facts about a corpus have REP 0 and TOOL "-": files and bytes (regular files of v1 or the scale tree),
limit_bytes limit_mbs limit_threads (the machine limit: SHA-256 + zstd -3 of v1's blocks).
The scale corpus has only b1 and b2 (a backup of the tree, then one with no change).
Timings and sizes are medians over the repetitions; peak RSS is the maximum over the timed steps
of a repetition, then the median over repetitions. MB = 10^6 bytes.
"""
import statistics
import sys

TOOLS = ["blockvault", "restic", "borg", "baseline"]
CORPORA = ["docs", "binaries", "bigfile", "scale"]
STEPS = [("b1", "initial backup"), ("b2", "no-change backup"), ("b3", "edited backup"),
         ("restore", "restore")]
RATIO_COLUMNS = [("bv/restic", "restic"), ("bv/borg", "borg"), ("bv/base", "baseline")]
MB = 1e6
KIB = 1024

# Issue 6: blockvault's value divided by the other tool's must not exceed the ceiling.
TARGETS = {
    "b1_s": [("restic", 0.5), ("borg", 0.5)],
    "b2_s": [("restic", 0.2)],
    "b3_s": [("restic", 0.5)],
    "restore_s": [("restic", 0.5)],
    "peak_rss": [("restic", 1.0)],
    "size_b3": [("restic", 1.0)],
}
BIGFILE_TARGETS = {"added": [("restic", 0.5)]}
SCALE_RSS_LIMIT_MB = 512


def load(path):
    data = {}   # corpus -> tool -> rep -> metric -> value
    facts = {}  # corpus -> metric -> value
    with open(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5:
                continue
            corpus, rep, tool, metric, value = fields
            if tool == "-":
                facts.setdefault(corpus, {})[metric] = float(value)
            else:
                data.setdefault(corpus, {}).setdefault(tool, {}).setdefault(int(rep), {})[metric] = float(value)
    return data, facts


def derive(values, files):
    """Adds per-repetition peak RSS, bytes added by backup 3, check rate and files per second."""
    rss = [values[step + "_rss"] for step, _ in STEPS if step + "_rss" in values]
    if rss:
        values["peak_rss"] = max(rss)
    if "size_b3" in values and "size_b2" in values:
        values["added"] = values["size_b3"] - values["size_b2"]
    if values.get("checkdata_s") and "size_b3" in values:
        values["check_rate"] = values["size_b3"] / MB / values["checkdata_s"]
    for step in ("b1", "b2"):
        if files and values.get(step + "_s"):
            values[step + "_files"] = files / values[step + "_s"]


def median_of(runs, metric):
    values = [reps[metric] for reps in runs.values() if metric in reps]
    return statistics.median(values) if values else None


def number(value, digits):
    return "-" if value is None else "%.*f" % (digits, value)


class Table:
    """Left-aligned label, right-aligned numbers, then a free-width target column."""

    def __init__(self, tools):
        self.tools = tools
        self.ratios = [(name, other) for name, other in RATIO_COLUMNS
                       if "blockvault" in tools and other in tools]
        headers = ["", *tools, *(name for name, _ in self.ratios), "  target"]
        self.widths = [26] + [max(11, len(h) + 2) for h in headers[1:-1]]
        self.lines = [self.render(headers), "-" * (sum(self.widths) + 8)]

    def render(self, cells):
        out = []
        for index, cell in enumerate(cells):
            if index == 0:
                out.append(cell.ljust(self.widths[0]))
            elif index < len(self.widths):
                out.append(cell.rjust(self.widths[index]))
            else:
                out.append("  " + cell.strip())
        return "".join(out).rstrip()

    def row(self, label, medians, digits, target=""):
        cells = [label] + [number(medians.get(tool), digits) for tool in self.tools]
        for _, other in self.ratios:
            a, b = medians.get("blockvault"), medians.get(other)
            cells.append("-" if a is None or not b else "%.2fx" % (a / b))
        self.lines.append(self.render(cells + [target]))


class Verdicts:
    """PASS/MISS marks for the table and the closing summary."""

    def __init__(self):
        self.passed = 0
        self.missed = []

    def ratio_marks(self, corpus, label, medians, targets):
        marks = []
        for other, ceiling in targets:
            a, b = medians.get("blockvault"), medians.get(other)
            if a is None or not b:
                continue
            good = a / b <= ceiling
            marks.append("%s <=%gx %s" % ("PASS" if good else "MISS", ceiling, other))
            self.note(good, "%s %s <= %gx %s (%.2fx)" % (corpus, label, ceiling, other, a / b))
        return ", ".join(marks)

    def limit_mark(self, corpus, label, value, limit):
        if value is None:
            return ""
        good = value < limit
        self.note(good, "%s %s < %g MB (%.0f MB)" % (corpus, label, limit, value))
        return "%s <%g MB" % ("PASS" if good else "MISS", limit)

    def note(self, good, what):
        if good:
            self.passed += 1
        else:
            self.missed.append(what)


def medians_for(runs, tools, metric, factor):
    medians = {}
    for tool in tools:
        value = median_of(runs.get(tool, {}), metric)
        medians[tool] = None if value is None else value * factor
    return medians


def repetition_lines(corpus, runs, tools, steps):
    lines = []
    for rep in sorted({rep for tool in tools for rep in runs[tool]}):
        for tool in tools:
            values = runs[tool].get(rep)
            if values is None:
                continue
            parts = []
            for step in steps:
                rss = values.get(step + "_rss")
                parts.append("%s %s/%s" % (step, number(values.get(step + "_s"), 2),
                                           number(None if rss is None else rss * KIB / MB, 0)))
            sizes = "/".join(number(values[key] / MB if key in values else None, 1)
                             for key in ("size_" + step for step in steps if step != "restore"))
            line = "  %-8s rep %d %-10s %s | vault %s" % (corpus, rep, tool, "  ".join(parts), sizes)
            if "added" in values:
                line += " | added %s" % number(values["added"] / MB, 2)
            if "verify" in values:
                line += " | restore check %s" % ("ok" if values["verify"] == 1.0 else "FAILED")
            lines.append(line)
    return lines


def corpus_table(corpus, runs, facts, tools, verdicts):
    table = Table(tools)
    rows = [(label + " (s)", step + "_s", 2, 1.0) for step, label in STEPS]
    rows += [("peak RSS (MB)", "peak_rss", 0, KIB / MB),
             ("vault size (MB)", "size_b3", 1, 1 / MB),
             ("added by insertions (MB)" if corpus == "bigfile" else "added by edit (MB)", "added", 2, 1 / MB),
             ("check --read-data (s)", "checkdata_s", 2, 1.0),
             ("check read (MB/s)", "check_rate", 0, 1.0),
             ("prune (s)", "prune_s", 2, 1.0),
             ("vault after prune (MB)", "size_pruned", 1, 1 / MB)]
    targets = dict(TARGETS, **(BIGFILE_TARGETS if corpus == "bigfile" else {}))
    for label, metric, digits, factor in rows:
        medians = medians_for(runs, tools, metric, factor)
        if all(value is None for value in medians.values()):
            continue
        mark = verdicts.ratio_marks(corpus, label, medians, targets.get(metric, []))
        table.row(label, medians, digits, mark)
    checks = []
    for tool in tools:
        results = [reps.get("verify") for reps in runs[tool].values()]
        checks.append("%d/%d" % (sum(1 for r in results if r == 1.0), len(results)))
    table.lines.append(table.render(["restore check ok"] + checks))
    initial = median_of(runs.get("blockvault", {}), "b1_s")
    if initial and facts.get("limit_mbs") and facts.get("limit_bytes"):
        rate = facts["limit_bytes"] / MB / initial
        table.lines.append("initial backup reaches %.0f%% of the machine limit (%.0f MB/s of %.0f MB/s: "
                           "SHA-256 + zstd -3 of v1's blocks, framed as the vault does, on %d threads)"
                           % (100 * rate / facts["limit_mbs"], rate, facts["limit_mbs"],
                              facts.get("limit_threads", 2)))
    return table.lines


def scale_table(runs, facts, tools, verdicts):
    table = Table(tools)
    for step, label in (("b1", "backup"), ("b2", "no-change backup")):
        table.row(label + " (s)", medians_for(runs, tools, step + "_s", 1.0), 2)
        table.row("  files/s", medians_for(runs, tools, step + "_files", 1.0), 0)
        medians = medians_for(runs, tools, step + "_rss", KIB / MB)
        mark = verdicts.limit_mark("scale", label + " peak RSS", medians.get("blockvault"), SCALE_RSS_LIMIT_MB)
        table.row("  peak RSS (MB)", medians, 0, mark)
    table.row("vault size (MB)", medians_for(runs, tools, "size_b2", 1 / MB), 1)
    table.lines.append("(files/s: a ratio above 1 means blockvault is faster)")
    return table.lines


def main():
    data, facts = load(sys.argv[1])
    verdicts = Verdicts()
    corpora = [c for c in CORPORA if c in data] + sorted(set(data) - set(CORPORA))
    for corpus in corpora:
        runs = data[corpus]
        corpus_facts = facts.get(corpus, {})
        for tool in runs:
            for values in runs[tool].values():
                derive(values, corpus_facts.get("files"))
        tools = [t for t in TOOLS if t in runs] + sorted(set(runs) - set(TOOLS))
        reps = max(len(runs[tool]) for tool in tools)
        if corpus == "scale":
            heading = "scale: %d files, %.1f MB" % (corpus_facts.get("files", 0), corpus_facts.get("bytes", 0) / MB)
            lines = scale_table(runs, corpus_facts, tools, verdicts)
            steps = ["b1", "b2"]
        else:
            heading = "%s: v1 %d files, %.1f MB" % (corpus, corpus_facts.get("files", 0),
                                                   corpus_facts.get("bytes", 0) / MB)
            lines = corpus_table(corpus, runs, corpus_facts, tools, verdicts)
            steps = [step for step, _ in STEPS]
        print("%s (medians of %d repetition%s)" % (heading, reps, "" if reps == 1 else "s"))
        print("\n".join(lines))
        print("per repetition (step seconds/peak RSS MB; vault MB after each backup; MB added by backup 3):")
        print("\n".join(repetition_lines(corpus, runs, tools, steps)))
        print()

    print("Medians; peak RSS = max over the timed steps; MB = 10^6 bytes; ratio < 1 means blockvault is "
          "smaller/faster. Targets (issue 6): %d PASS, %d MISS" % (verdicts.passed, len(verdicts.missed)))
    for what in verdicts.missed:
        print("  MISS " + what)


if __name__ == "__main__":
    sys.exit(main())
