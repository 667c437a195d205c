#!/usr/bin/env python3
"""Prints the benchmark's per-repetition numbers and its summary table.

Usage: bench-report.py RAW.tsv

RAW.tsv has one measurement a line: REP TAB TOOL TAB METRIC TAB VALUE, where METRIC is one of
  b1_s b2_s b3_s restore_s            wall seconds (initial, no-change, edited backup; restore)
  b1_rss b2_rss b3_rss restore_rss    peak RSS in KiB (from /usr/bin/time %M)
  size_b1 size_b2 size_b3             vault size in bytes (du -sb) after each backup
  verify                              1 if the restored tree equals v2, else 0
  checkdata_s prune_s                 wall seconds of check --read-data and of prune after forget --keep-last 1
  size_pruned                         vault size in bytes after that prune
Timings and sizes are medians over the repetitions; peak RSS is the maximum over the four timed
steps of a repetition, then the median over repetitions. MB = 10^6 bytes.
"""
import statistics
import sys

TOOLS = ["blockvault", "restic", "borg"]
STEPS = [("b1", "initial backup"), ("b2", "no-change backup"), ("b3", "edited backup"),
         ("restore", "restore")]


def load(path):
    data = {}  # tool -> rep -> metric -> value
    with open(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                continue
            rep, tool, metric, value = fields
            data.setdefault(tool, {}).setdefault(int(rep), {})[metric] = float(value)
    return data


def derived(values):
    """Adds the per-repetition peak RSS and bytes added by the edited backup."""
    rss = [values[step + "_rss"] for step, _ in STEPS if step + "_rss" in values]
    if rss:
        values["peak_rss"] = max(rss)
    if "size_b3" in values and "size_b2" in values:
        values["added"] = values["size_b3"] - values["size_b2"]
    if values.get("checkdata_s") and "size_b3" in values:
        values["check_rate"] = values["size_b3"] / 1e6 / values["checkdata_s"]
    return values


def median_of(data, tool, metric):
    values = [reps[metric] for reps in data.get(tool, {}).values() if metric in reps]
    return statistics.median(values) if values else None


def number(value, digits):
    return "-" if value is None else "%.*f" % (digits, value)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def main():
    data = load(sys.argv[1])
    for tool in data:
        for rep in data[tool]:
            derived(data[tool][rep])
    tools = [tool for tool in TOOLS if tool in data] + sorted(set(data) - set(TOOLS))

    print("Per repetition (step seconds/peak RSS MB; vault MB after backup 1/2/3; MB added by edit):")
    for rep in sorted({rep for tool in tools for rep in data[tool]}):
        for tool in tools:
            values = data[tool].get(rep)
            if values is None:
                continue
            parts = []
            for step, _ in STEPS:
                seconds = values.get(step + "_s")
                rss = values.get(step + "_rss")
                parts.append("%s %s/%s" % (step, number(seconds, 1),
                                           number(None if rss is None else rss * 1024 / 1e6, 0)))
            sizes = "/".join(number(values[key] / 1e6 if key in values else None, 1)
                             for key in ("size_b1", "size_b2", "size_b3"))
            verify = {1.0: "ok", 0.0: "FAILED"}.get(values.get("verify"), "-")
            print("  rep %d %-10s %s | vault %s | added %s | restore check %s"
                  % (rep, tool, "  ".join(parts), sizes,
                     number(values["added"] / 1e6 if "added" in values else None, 2), verify))
    print()

    # label, metric, decimals, factor from the raw unit to the shown unit
    rows = [(label + " (s)", step + "_s", 1, 1.0) for step, label in STEPS]
    rows.append(("peak RSS (MB)", "peak_rss", 0, 1024 / 1e6))
    rows.append(("vault size (MB)", "size_b3", 1, 1e-6))
    rows.append(("added by edit (MB)", "added", 2, 1e-6))
    rows.append(("check --read-data (s)", "checkdata_s", 1, 1.0))
    rows.append(("check read (MB/s)", "check_rate", 0, 1.0))
    rows.append(("prune (s)", "prune_s", 1, 1.0))
    rows.append(("vault after prune (MB)", "size_pruned", 1, 1e-6))

    headers = ["", *tools]
    ratio_columns = [("blockvault/restic", "restic"), ("blockvault/borg", "borg")]
    if "blockvault" in tools:
        headers += [name for name, other in ratio_columns if other in tools]
    widths = [24] + [max(11, len(h) + 2) for h in headers[1:]]

    def render(cells):
        return "".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                       for i, c in enumerate(cells))

    print(render(headers))
    print("-" * sum(widths[:len(headers)]))
    for label, metric, digits, factor in rows:
        medians = {}
        for tool in tools:
            value = median_of(data, tool, metric)
            medians[tool] = None if value is None else value * factor
        cells = [label] + [number(medians[tool], digits) for tool in tools]
        if "blockvault" in tools:
            cells += [ratio(medians["blockvault"], medians[other])
                      for _, other in ratio_columns if other in tools]
        print(render(cells))
    checks = []
    for tool in tools:
        results = [reps.get("verify") for reps in data[tool].values()]
        good = sum(1 for r in results if r == 1.0)
        checks.append("%d/%d" % (good, len(results)))
    print(render(["restore check ok"] + checks))
    reps = max(len(data[tool]) for tool in tools) if tools else 0
    print()
    print("Medians over %d repetition(s); peak RSS = max over the four timed steps; "
          "MB = 10^6 bytes; ratio < 1 means blockvault is smaller/faster (for MB/s, ratio > 1 is faster)." % reps)


if __name__ == "__main__":
    sys.exit(main())
