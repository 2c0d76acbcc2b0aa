#!/usr/bin/env python3
"""Times one command on a recorded SCP session, with no driver in the timed path.

Usage: replay_time.py RECORDING EXPECTED_REPLY OUT_JSON -- COMMAND [ARGS...]

RECORDING is every byte scp_driver.py sent to the command in an earlier run
(`--dump-input`), EXPECTED_REPLY every byte the command sent back then (`--dump-output`).
The command reads the recording from a file on its stdin, as fast as it can read it (as
from a splunkd that answers at once), and its replies go to a file. Writes to OUT_JSON:
wall seconds (process start to exit, getinfo included), the command's CPU seconds (user +
system, from wait4), its exit code, and whether its replies are byte for byte the recorded
ones (a command whose answer changed is not timed as if it were right).
"""
import json
import os
import sys
import tempfile
import time


def main() -> int:
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    recording, expected, out_json, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
    with open(recording, "rb") as stdin, tempfile.TemporaryFile() as stdout:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(stdin.fileno(), 0)
                os.dup2(stdout.fileno(), 1)
                os.execvp(cmd[0], cmd)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        stdout.seek(0)
        same = same_bytes(stdout, expected)
    result = {
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "exit_code": os.waitstatus_to_exitcode(status),
        "replies_identical": same,
        "request_bytes": os.path.getsize(recording),
    }
    with open(out_json, "w") as f:
        json.dump(result, f)
    return 0


def same_bytes(got, expected_path: str) -> bool:
    with open(expected_path, "rb") as want:
        while True:
            a, b = got.read(1 << 20), want.read(1 << 20)
            if a != b:
                return False
            if not a:
                return True


if __name__ == "__main__":
    sys.exit(main())
