#!/usr/bin/env bash
# Yardstick: t1651detect vs the same core logic as a splunklib ReportingCommand
# (bench/splunklib_t1651.py), both driven by scp_driver.py on the same CSV of events.
#
# Usage: bench/splunklib_compare.sh /path/to/scp_driver.py [EVENTS] [PROBES] [ROUNDS]
#   EVENTS: generated events (default 200000; same generator as benches/command_e2e.rs)
#   PROBES: getinfo-only probes per command for the median round trip (default 20)
#   ROUNDS: interleaved rounds (default 3): t1651detect, t1651detect pinned to one CPU
#           (when `taskset` exists), splunklib, and the ceiling, in turn; medians are reported
# The ceiling: the splunk-scp crate's `sum` example (a reporting command that decodes every
# row, `_raw` included, and sums `_time`, run as splunkd runs it without its map phase)
# through the same driver on the same CSV: no command can answer faster than the driver
# feeds it, so this bounds any ratio measured here.
# Env: T1651_VENV (default target/splunklib-venv): the venv splunk-sdk is installed into.
# Prints rows/s (driver's rows_in / execute time) per round and their medians, the ratio of
# the medians and the median of the per-round ratios, the ceiling's rate and ratio, each
# command's CPU seconds per run (with /usr/bin/time), the load average before and after,
# and both getinfo round trips.
# Then the same commands replayed: what the driver sent each one is recorded once
# (--dump-input, untimed) and read by the command from a file, timed from start to exit by
# bench/replay_time.py (interleaved rounds; replies must equal the recorded ones): the
# command's own speed without the Python driver in the timed path, which on a 2-CPU
# machine caps every command near the ceiling's rate.
set -euo pipefail

DRIVER=${1:?usage: $0 /path/to/scp_driver.py [EVENTS] [PROBES]}
EVENTS=${2:-200000}
PROBES=${3:-20}
ROUNDS=${4:-3}
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
(cd "$ROOT" && cargo build --quiet --release --bin t1651detect --example sum)
RUST=("$ROOT/target/release/t1651detect")
PY=("$VENV/bin/python" "$ROOT/bench/splunklib_t1651.py")
SUM=("$ROOT/target/release/examples/sum")

# CPU seconds of the command itself (user + system), written to a file of its own so that
# the protocol's stdout and the command's stderr stay untouched.
TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f "%U %S")

run() { # name, [driver options...] --, command...
    local name=$1; shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    local timed=("$@")
    [ ${#TIME[@]} -gt 0 ] && timed=("${TIME[@]}" -o "$OUT/$name.cpu" "$@")
    python3 "$DRIVER" --csv "$CSV" --finish-mode empty --strict --quiet --show 0 "${opts[@]}" \
        --summary-json "$OUT/$name.json" --output "$OUT/$name.out.csv" -- "${timed[@]}"
}
probe() { # name, command...
    local name=$1; shift
    for i in $(seq "$PROBES"); do
        python3 "$DRIVER" --probe-only --strict --quiet --summary-json "$OUT/$name.probe$i.json" -- "$@"
    done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
VARIANTS=(rust splunklib ceiling)
command -v taskset >/dev/null && VARIANTS=(rust rust1 splunklib ceiling)
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
rm -f "$OUT"/*.cpu "$OUT"/*.replay.json
for r in $(seq "$ROUNDS"); do
    run "rust.$r" -- "${RUST[@]}"
    if [ ${#PIN[@]} -gt 0 ]; then run "rust1.$r" -- "${PIN[@]}" "${RUST[@]}"; fi
    run "splunklib.$r" -- "${PY[@]}"
    run "ceiling.$r" --arg total=_time --arg _time -- "${SUM[@]}"
done
echo "load average after the driven rounds: $(cut -d' ' -f1-3 /proc/loadavg)"

# Replayed: what the driver sent each command (recorded once, untimed) is read by the
# command from a file, with no driver in the timed path: the command's own speed, as with a
# splunkd that answers at once (splunkd is not a Python program).
record() { # name, [driver options...] --, command...
    local name=$1; shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    python3 "$DRIVER" --csv "$CSV" --finish-mode empty --strict --quiet --show 0 "${opts[@]}" \
        --dump-input "$OUT/$name.input" --dump-output "$OUT/$name.reply" \
        --summary-json "$OUT/$name.record.json" -- "$@"
}
replay() { # name, recording, command...
    local name=$1 rec=$2; shift 2
    python3 "$ROOT/bench/replay_time.py" "$OUT/$rec.input" "$OUT/$rec.reply" \
        "$OUT/$name.replay.json" -- "$@"
}
record rust -- "${RUST[@]}"
record splunklib -- "${PY[@]}"
record ceiling --arg total=_time --arg _time -- "${SUM[@]}"
for r in $(seq "$ROUNDS"); do
    replay "rust.$r" rust "${RUST[@]}"
    if [ ${#PIN[@]} -gt 0 ]; then replay "rust1.$r" rust "${PIN[@]}" "${RUST[@]}"; fi
    replay "splunklib.$r" splunklib "${PY[@]}"
    replay "ceiling.$r" ceiling "${SUM[@]}"
done
echo "load average after the replayed rounds: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$OUT"/*.input
probe rust "${RUST[@]}"
probe splunklib "${PY[@]}"

python3 - "$OUT" "$PROBES" "$ROUNDS" "${VARIANTS[@]}" <<'PY'
import csv, json, statistics, sys
out, probes, rounds, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
names = {"rust": "t1651detect", "rust1": "t1651detect, 1 CPU", "splunklib": "splunklib",
         "ceiling": "ceiling (sum)"}
def load(n): return json.load(open(f"{out}/{n}.json"))
def cpu(n):
    try:
        return sum(float(x) for x in open(f"{out}/{n}.cpu").read().split()[-2:])
    except (OSError, ValueError):
        return None
def probe_ms(n): return statistics.median(load(f"{n}.probe{i}")["getinfo_seconds"] for i in range(1, probes + 1)) * 1e3
runs = {v: [load(f"{v}.{r}") for r in range(1, rounds + 1)] for v in variants}
for v in variants:
    for s in runs[v]:
        if s["exit_code"] != 0 or s["warnings"]:
            print(f"{names[v]}: exit {s['exit_code']}, warnings {s['warnings'][:3]}")
    rate = [s["rows_in_per_second"] for s in runs[v]]
    mbs = [s["request_bytes"] / s["execute_seconds"] / 1e6 for s in runs[v]]
    cpus = [c for c in (cpu(f"{v}.{r}") for r in range(1, rounds + 1)) if c is not None]
    cpus = [c for c in cpus if c > 0]
    cpu_text = (f", CPU {statistics.median(cpus):.2f} s per run "
                f"({runs[v][0]['request_bytes'] / statistics.median(cpus) / 1e6:.0f} MB per CPU-second)"
                if cpus else "")
    print(f"{names[v]:20s} rows_in {runs[v][0]['rows_in']}, rows out {runs[v][0]['rows_out']}: "
          f"rows/s per round {', '.join(f'{x:.0f}' for x in rate)}; median {statistics.median(rate):.0f} rows/s, "
          f"{statistics.median(mbs):.1f} MB/s{cpu_text}")
def ratios(label, rates):
    """The ratios of the per-round rates (higher is faster) of each variant."""
    med = {v: statistics.median(r) for v, r in rates.items()}
    per_round = [a / b for a, b in zip(rates["rust"], rates["splunklib"])]
    print(f"{label} ratio t1651detect / splunklib: {med['rust'] / med['splunklib']:.1f}x (ratio of medians), "
          f"per round {', '.join(f'{x:.1f}' for x in per_round)}, median {statistics.median(per_round):.1f}x (target 20x)")
    if "rust1" in med:
        print(f"{label}, one CPU: t1651detect / splunklib {med['rust1'] / med['splunklib']:.1f}x")
    print(f"{label} ceiling: the sum example / splunklib {med['ceiling'] / med['splunklib']:.1f}x; "
          f"t1651detect at {100 * med['rust'] / med['ceiling']:.0f} % of the ceiling")
ratios("driven", {v: [s["rows_in_per_second"] for s in runs[v]] for v in variants})
print(f"getinfo round trip (median of {probes}, process start included): "
      f"t1651detect {probe_ms('rust'):.1f} ms, splunklib {probe_ms('splunklib'):.1f} ms")
def groups(n):
    with open(f"{out}/{n}.out.csv") as f:
        return {tuple(row[k].lower() for k in ("caller_identity", "resource_group", "subscription_id", "operation_lower")):
                (int(row["invocation_count"]), int(row["vm_count"])) for row in csv.DictReader(f)}
gr, gp = groups("rust.1"), groups("splunklib.1")
same = sum(1 for k, v in gr.items() if gp.get(k) == v)
print(f"same answer check: {len(gr)} vs {len(gp)} groups, {same} with equal (invocation_count, vm_count); "
      f"invocations {sum(v[0] for v in gr.values())} vs {sum(v[0] for v in gp.values())}")
if "rust1" in runs:
    print(f"t1651detect 1 CPU vs 2: outputs {'identical' if open(f'{out}/rust.1.out.csv').read() == open(f'{out}/rust1.1.out.csv').read() else 'DIFFER'}")

print("replayed (each command reads what the driver sent it, from a file; wall from start to exit):")
rep = {v: [json.load(open(f"{out}/{v}.{r}.replay.json")) for r in range(1, rounds + 1)] for v in variants}
rows = runs["rust"][0]["rows_in"]
for v in variants:
    bad = [r for r, s in enumerate(rep[v], 1) if s["exit_code"] != 0 or not s["replies_identical"]]
    if bad:
        print(f"{names[v]}: rounds {bad} exited non-zero or replied other bytes than when recorded")
    walls = [s["wall_seconds"] for s in rep[v]]
    cpus = statistics.median(s["cpu_seconds"] for s in rep[v])
    w = statistics.median(walls)
    print(f"{names[v]:20s} wall per round {', '.join(f'{x:.3f}' for x in walls)} s; median {w:.3f} s, "
          f"{rows / w:.0f} rows/s, {rep[v][0]['request_bytes'] / w / 1e6:.1f} MB/s, CPU {cpus:.2f} s "
          f"({rep[v][0]['request_bytes'] / cpus / 1e6:.0f} MB per CPU-second)")
ratios("replayed", {v: [rows / s["wall_seconds"] for s in rep[v]] for v in variants})
PY
