#!/usr/bin/env python3
"""Summarise a splunk-appinspect JSON report (used by package.sh).

    appinspect_report.py <report.json>

Prints the summary counts and every check that did not pass, with its messages. Exit status 1
when the report has any failure or error (or cannot be read), 0 otherwise: warnings and future
failures are reported, not fatal. Two warnings come with every app that has a modular input and
are marked as expected.
Standard library only.
"""

import json
import sys

# Informational warnings AppInspect gives every app with a modular input (app-notes §1d).
EXPECTED_WARNINGS = {"check_for_modular_inputs", "check_for_indexer_synced_configs"}
SHOWN = ("failure", "error", "future_failure", "warning", "manual_check")
COUNT_KEYS = ("failure", "error", "future_failure", "warning", "success", "skipped", "not_applicable")


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            report = json.load(f)
        summary = report["summary"]
        reports = report["reports"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"cannot read AppInspect report {argv[1]}: {e}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {summary.get(k, 0)}" for k in COUNT_KEYS)
    print(f"AppInspect summary: {counts}")
    for rep in reports:
        for group in rep.get("groups", []):
            for chk in group.get("checks", []):
                result = chk.get("result")
                if result not in SHOWN:
                    continue
                note = " (expected for an app with a modular input)" if (
                    result == "warning" and chk.get("name") in EXPECTED_WARNINGS) else ""
                print(f"  {result.upper()}: {chk.get('name')}{note}")
                for msg in chk.get("messages", [])[:5]:
                    where = msg.get("message_filename") or msg.get("filename") or ""
                    line = msg.get("message_line") or msg.get("line") or ""
                    loc = f" [{where}{':' + str(line) if line else ''}]" if where else ""
                    text = " ".join(str(msg.get("message", "")).split())
                    print(f"      {text[:300]}{loc}")
    bad = int(summary.get("failure", 0)) + int(summary.get("error", 0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
