#!/usr/bin/env python3
"""Probe the packaged binaries the way splunkd starts them (used by package.sh).

    probe_binaries.py getinfo <t1651detect>
        Starts the command under `env -i` (no environment at all, as a worst case for what
        splunkd passes), sends one realistic SCP v2 getinfo chunk with args ["threshold=3"],
        closes stdin and expects exactly one well-formed reply chunk and exit status 0. The
        reply must not carry an error and must keep the x86_64 binary on the search head
        (type reporting, stateful or events; streaming, the default, would send it to indexers).

    probe_binaries.py scheme <t1651_cloud_audit> <README/inputs.conf.spec>
        Runs `--scheme` under `env -i` and expects exit 0 and scheme XML whose <arg> names are
        exactly the parameters declared in inputs.conf.spec.

Exit status 0 when the probe passes, 1 with a message naming what was wrong otherwise.
Standard library only: this runs before any virtualenv exists.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

TIMEOUT_S = 20
# Settings every modular input has, which need no <arg> in the scheme.
BUILTIN_INPUT_SETTINGS = {
    "disabled", "interval", "index", "sourcetype", "source", "host",
    "start_by_shell", "run_introspection", "python.version", "python.required",
}
HEADER_RE = re.compile(rb"^chunked 1\.0,(\d+),(\d+)\n")
ONSEARCHHEAD_TYPES = {"reporting", "stateful", "events"}


class ProbeError(Exception):
    pass


def run_bare(argv, stdin_bytes, cwd):
    """Run argv under `env -i` with the given stdin; return (rc, stdout, stderr)."""
    try:
        proc = subprocess.run(
            ["env", "-i"] + argv,
            input=stdin_bytes,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(f"{argv[0]} did not exit within {TIMEOUT_S}s after stdin was closed")
    except OSError as e:
        raise ProbeError(f"cannot start {argv[0]}: {e}")
    return proc.returncode, proc.stdout, proc.stderr


def stderr_tail(err):
    text = err.decode("utf-8", "replace").strip()
    if not text:
        return ""
    lines = text.splitlines()[-5:]
    return " (stderr: " + " | ".join(lines) + ")"


def getinfo_request(dispatch_dir):
    search = "search index=* sourcetype=azure:activity | t1651detect threshold=3"
    meta = {
        "action": "getinfo",
        "preview": False,
        "streaming_command_will_restart": False,
        "searchinfo": {
            "args": ["threshold=3"],
            "raw_args": ["threshold=3"],
            "dispatch_dir": dispatch_dir,
            "sid": "1764201600.42",
            "app": "t1651_cloud_admin_command",
            "owner": "admin",
            "username": "admin",
            "session_key": "probe-not-a-real-session-key",
            "splunkd_uri": "https://127.0.0.1:8089",
            "splunk_version": "9.3.2",
            "search": urllib.parse.quote(search),
            "command": "t1651detect",
            "maxresultrows": 50000,
            "earliest_time": "1764115200",
            "latest_time": "1764201600",
        },
    }
    body = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    return b"chunked 1.0,%d,0\n" % len(body) + body


def parse_single_chunk(out):
    """Parse `out` as exactly one chunk; return (metadata dict, body bytes)."""
    m = HEADER_RE.match(out)
    if not m:
        raise ProbeError(f"reply does not start with 'chunked 1.0,<M>,<B>\\n': {out[:80]!r}")
    mlen, blen = int(m.group(1)), int(m.group(2))
    start = m.end()
    if len(out) < start + mlen + blen:
        raise ProbeError(
            f"reply header announces {mlen}+{blen} bytes but only {len(out) - start} follow"
        )
    meta_bytes = out[start:start + mlen]
    body = out[start + mlen:start + mlen + blen]
    rest = out[start + mlen + blen:]
    if rest:
        raise ProbeError(f"{len(rest)} bytes after the reply chunk (one request, one reply): {rest[:80]!r}")
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ProbeError(f"reply metadata is not JSON: {e}: {meta_bytes[:80]!r}")
    if not isinstance(meta, dict):
        raise ProbeError(f"reply metadata is not a JSON object: {meta_bytes[:80]!r}")
    return meta, body


def probe_getinfo(binary):
    binary = os.path.abspath(binary)
    with tempfile.TemporaryDirectory(prefix="t1651-probe-") as dispatch_dir:
        rc, out, err = run_bare([binary], getinfo_request(dispatch_dir), os.path.dirname(binary))
    if rc != 0:
        raise ProbeError(f"getinfo probe: exit status {rc}, expected 0{stderr_tail(err)}")
    if not out:
        raise ProbeError(f"getinfo probe: no reply on stdout{stderr_tail(err)}")
    meta, _body = parse_single_chunk(out)
    if meta.get("error"):
        raise ProbeError(f"getinfo reply carries an error: {meta['error']!r}")
    messages = (meta.get("inspector") or {}).get("messages") or []
    errors = [m for m in messages if isinstance(m, list) and m and m[0] == "ERROR"]
    if errors:
        raise ProbeError(f"getinfo reply carries ERROR messages: {errors!r}")
    if meta.get("finished") is True:
        raise ProbeError("getinfo reply says finished=true (the command refuses to run)")
    typ = meta.get("type", "streaming")
    if typ not in ONSEARCHHEAD_TYPES:
        raise ProbeError(
            f"getinfo reply type {typ!r} would run the x86_64 binary on indexers; "
            f"expected one of {sorted(ONSEARCHHEAD_TYPES)}"
        )
    return f"type={typ}, reply keys {sorted(meta)}"


def spec_params(spec_path, scheme_name):
    """Parameter names of the [<scheme>://<name>] stanza of an inputs.conf.spec."""
    params, in_stanza, found = set(), False, False
    with open(spec_path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("*"):
                continue
            if line.startswith("["):
                in_stanza = line.startswith(f"[{scheme_name}://")
                found = found or in_stanza
                continue
            if in_stanza and "=" in line:
                params.add(line.split("=", 1)[0].strip())
    if not found:
        raise ProbeError(f"{spec_path}: no [{scheme_name}://<name>] stanza")
    return params - BUILTIN_INPUT_SETTINGS


def probe_scheme(binary, spec_path):
    binary = os.path.abspath(binary)
    scheme_name = os.path.basename(binary)
    rc, out, err = run_bare([binary, "--scheme"], b"", os.path.dirname(binary))
    if rc != 0:
        raise ProbeError(f"--scheme: exit status {rc}, expected 0{stderr_tail(err)}")
    try:
        root = ET.fromstring(out)
    except ET.ParseError as e:
        raise ProbeError(f"--scheme output is not XML: {e}: {out[:80]!r}")
    if root.tag != "scheme":
        raise ProbeError(f"--scheme root element is <{root.tag}>, expected <scheme>")
    if not (root.findtext("title") or "").strip():
        raise ProbeError("--scheme has no <title>")
    mode = (root.findtext("streaming_mode") or "").strip()
    if mode != "xml":
        raise ProbeError(f"--scheme streaming_mode is {mode!r}, expected 'xml'")
    args = {a.get("name") for a in root.iter("arg")}
    declared = spec_params(spec_path, scheme_name)
    missing, extra = declared - args, args - declared - BUILTIN_INPUT_SETTINGS
    if missing or extra:
        raise ProbeError(
            "scheme <arg>s differ from inputs.conf.spec: "
            f"missing from scheme {sorted(missing)}, not in spec {sorted(extra)}"
        )
    return f"{len(args)} args match inputs.conf.spec"


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "getinfo":
            print(probe_getinfo(argv[2]))
        elif len(argv) == 4 and argv[1] == "scheme":
            print(probe_scheme(argv[2], argv[3]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ProbeError as e:
        print(f"probe failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
