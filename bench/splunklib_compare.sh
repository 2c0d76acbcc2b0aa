#!/usr/bin/env bash
# Yardstick: t1651detect vs the same core logic as a splunklib ReportingCommand
# (bench/splunklib_t1651.py), both driven by scp_driver.py on the same CSV of events.
#
# Usage: bench/splunklib_compare.sh /path/to/scp_driver.py [EVENTS] [PROBES]
#   EVENTS: generated events (default 200000; same generator as benches/command_e2e.rs)
#   PROBES: getinfo-only probes per command for the median round trip (default 20)
# Env: T1651_VENV (default target/splunklib-venv): the venv splunk-sdk is installed into.
# Prints rows/s (driver's rows_in / execute time), the ratio, and both getinfo round trips.
set -euo pipefail

DRIVER=${1:?usage: $0 /path/to/scp_driver.py [EVENTS] [PROBES]}
EVENTS=${2:-200000}
PROBES=${3:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${T1651_VENV:-$ROOT/target/splunklib-venv}
OUT=$ROOT/target/splunklib-compare
mkdir -p "$OUT"

if ! "$VENV/bin/python" -c 'import splunklib' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet splunk-sdk
fi
echo "splunk-sdk $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("splunk-sdk"))')"

CSV=$OUT/events.csv
(cd "$ROOT" && T1651_BENCH_EVENTS=$EVENTS T1651_BENCH_CSV=$CSV cargo bench --quiet --bench command_e2e)
(cd "$ROOT" && cargo build --quiet --release --bin t1651detect)
RUST=("$ROOT/target/release/t1651detect")
PY=("$VENV/bin/python" "$ROOT/bench/splunklib_t1651.py")

run() { # name, command...
    local name=$1; shift
    python3 "$DRIVER" --csv "$CSV" --finish-mode empty --strict --quiet --show 0 \
        --summary-json "$OUT/$name.json" --output "$OUT/$name.out.csv" -- "$@"
}
probe() { # name, command...
    local name=$1; shift
    for i in $(seq "$PROBES"); do
        python3 "$DRIVER" --probe-only --strict --quiet --summary-json "$OUT/$name.probe$i.json" -- "$@"
    done
}

run rust "${RUST[@]}"
run splunklib "${PY[@]}"
probe rust "${RUST[@]}"
probe splunklib "${PY[@]}"

python3 - "$OUT" "$PROBES" <<'PY'
import csv, json, statistics, sys
out, probes = sys.argv[1], int(sys.argv[2])
def load(n): return json.load(open(f"{out}/{n}.json"))
def probe_ms(n): return statistics.median(load(f"{n}.probe{i}")["getinfo_seconds"] for i in range(1, probes + 1)) * 1e3
r, p = load("rust"), load("splunklib")
for name, s in (("t1651detect", r), ("splunklib", p)):
    mb = s["request_bytes"] / s["execute_seconds"] / 1e6
    print(f"{name:12s} rows_in {s['rows_in']}, execute {s['execute_seconds']:.3f} s: "
          f"{s['rows_in_per_second']:.0f} rows/s, {mb:.1f} MB/s; rows out {s['rows_out']}; exit {s['exit_code']}; "
          f"warnings {len(s['warnings'])}")
print(f"throughput ratio t1651detect / splunklib: {r['rows_in_per_second'] / p['rows_in_per_second']:.1f}x (target 20x)")
print(f"getinfo round trip (median of {probes}, process start included): "
      f"t1651detect {probe_ms('rust'):.1f} ms, splunklib {probe_ms('splunklib'):.1f} ms")
def groups(n):
    with open(f"{out}/{n}.out.csv") as f:
        return {tuple(row[k].lower() for k in ("caller_identity", "resource_group", "subscription_id", "operation_lower")):
                (int(row["invocation_count"]), int(row["vm_count"])) for row in csv.DictReader(f)}
gr, gp = groups("rust"), groups("splunklib")
same = sum(1 for k, v in gr.items() if gp.get(k) == v)
print(f"same answer check: {len(gr)} vs {len(gp)} groups, {same} with equal (invocation_count, vm_count); "
      f"invocations {sum(v[0] for v in gr.values())} vs {sum(v[0] for v in gp.values())}")
PY
