#!/usr/bin/env python3
"""Times the finish of a recorded t1651detect session: what the command does after
splunkd's last request (folding the open invocations, sizing and writing the summary).

    bench/finish_time.py SESSION ROUNDS SETTLE BINARY [BINARY ...] [-- PREFIX ...]

SESSION is a request file of `cargo bench --bench command_e2e` (T1651_BENCH_DIR). For each
binary, in alternated rounds: every request but the last is written to the command, which
is given SETTLE seconds to answer them (its replies go to /dev/null, so no reader slows
it); then the last request (header-only, `finished`) is written and the time until the
process has exited is its finish. PREFIX (e.g. `taskset -c 0`) runs before each binary.
Prints each binary's median, least and greatest finish.
"""
import re
import statistics
import subprocess
import sys
import time


def requests(data):
    """The session's chunks (`chunked 1.0,<meta>,<body>` header, metadata, body)."""
    out, i = [], 0
    while i < len(data):
        j = data.index(b"\n", i)
        m = re.match(rb"chunked 1\.0,(\d+),(\d+)$", data[i:j])
        if not m:
            sys.exit(f"{i}: not a chunk header: {data[i:j][:80]!r}")
        end = j + 1 + int(m.group(1)) + int(m.group(2))
        out.append(data[i:end])
        i = end
    return out


def finish(argv, reqs, settle):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for r in reqs[:-1]:
        p.stdin.write(r)
    p.stdin.flush()
    time.sleep(settle)
    if p.poll() is not None:
        sys.exit(f"{argv}: exited before the last request (code {p.returncode})")
    t0 = time.perf_counter()
    p.stdin.write(reqs[-1])
    p.stdin.close()
    code = p.wait()
    if code != 0:
        sys.exit(f"{argv}: exit code {code}")
    return time.perf_counter() - t0


def main():
    args = sys.argv[1:]
    prefix = []
    if "--" in args:
        k = args.index("--")
        args, prefix = args[:k], args[k + 1 :]
    if len(args) < 4:
        sys.exit(__doc__)
    session, rounds, settle, binaries = args[0], int(args[1]), float(args[2]), args[3:]
    with open(session, "rb") as f:
        reqs = requests(f.read())
    times = {b: [] for b in binaries}
    for r in range(rounds):
        for b in binaries if r % 2 == 0 else binaries[::-1]:
            times[b].append(finish(prefix + [b], reqs, settle))
    for b in binaries:
        v = times[b]
        print(
            f"{b}: finish median {statistics.median(v):.3f} s "
            f"(least {min(v):.3f}, greatest {max(v):.3f}) over {len(v)} rounds"
        )


if __name__ == "__main__":
    main()
