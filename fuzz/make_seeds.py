#!/usr/bin/env python3
"""Writes the hand-made seed corpora in fuzz/corpus/<target>/ (committed; re-run to regenerate).

Every seed is built here from the documented protocol shapes (protocol.md sections 2, 3, 5, 6),
with byte counts computed, not copied from any recording.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(meta, body=b""):
    if isinstance(meta, (dict, list)):
        meta = json.dumps(meta, separators=(",", ":")).encode()
    if isinstance(meta, str):
        meta = meta.encode()
    if isinstance(body, str):
        body = body.encode()
    return b"chunked 1.0,%d,%d\n" % (len(meta), len(body)) + meta + body


def getinfo(args, maxresultrows=50000):
    return chunk({
        "action": "getinfo", "preview": False, "streaming_command_will_restart": False,
        "searchinfo": {"args": args, "raw_args": args, "dispatch_dir": "", "sid": "1.1",
                       "app": "search", "splunk_version": "8.2.1", "command": "tiny",
                       "search": "%7C%20tiny", "maxresultrows": maxresultrows,
                       "earliest_time": "0", "latest_time": 0}})


def execute(finished, body=""):
    return chunk('{"action":"execute","finished":%s}' % ("true" if finished else "false"), body)


BODY_MV = '"_time",name,"__mv__time","__mv_name"\n"1627354345.934",Zoë,,\n66,"x\ny$z",,"$x$;$y$$z$"\n'
BODY_RAW = ('_raw,_chunked_idx,__mv__raw,__mv__chunked_idx\n'
            '"{""operationName"":{""value"":""Microsoft.Compute/virtualMachines/runCommand/action""}}",0,,\n'
            '"plain, with comma",1,,\n')
BODY_CRLF = 'a,b\r\n"he said ""hi""",""\r\n,"x\r\ny"\r\n3,4'

SEEDS = {
    "scp_csv_body": {
        "splunkd_mv": BODY_MV,
        "raw_json": BODY_RAW,
        "crlf_quotes": BODY_CRLF,
        "header_only": '"_raw","_chunked_idx","__mv__raw","__mv__chunked_idx"\n',
        "mv_first": '__mv_a,a,__mv_z\n"$1$;$2$","1\n2",$q$;$r$\n',
        "trailing_text_after_quote": 'a,b\n"x"y,2\n\n\r\n',
        "one_column_blank_lines": 'a\n\n""\n\n',
    },
    # scp_frame: [flags][k][k split sizes][stream]
    "scp_frame": {
        "session_whole": bytes([0, 0]) + getinfo(["x"]) + execute(True, BODY_MV),
        "session_split": bytes([1 | (3 << 1), 3, 1, 7, 2]) + getinfo([]) + execute(False, BODY_RAW)
                         + execute(True, ""),
        "tolerant_headers": bytes([0, 1, 5]) + b"chunked  1.0 , 2 , 3 \r\n{}a,b\n\r\nchunked 1.0,0,0\n",
        "truncated_body": bytes([0, 0]) + b"chunked 1.0,2,10\n{}abc",
        "huge_declared": bytes([1, 0]) + b"chunked 1.0,2,10737418240\n{}",
        "legacy_v1": bytes([0, 0]) + b"splunkVersion:6.5.1\nallowStream:1\n\n",
    },
    # scp_runtime raw mode: [flags with bit0 = 0][k][splits][stream]
    "scp_runtime": {
        "streaming": bytes([0, 2, 3, 11]) + getinfo(["_raw"]) + execute(False, BODY_RAW)
                     + execute(True, BODY_MV),
        "reporting_82_style": bytes([3 << 2, 0]) + getinfo([]) + execute(False, BODY_MV)
                              + execute(True, ""),
        "events_fail_process": bytes([2 << 2, 0]) + getinfo(["fail=process"])
                               + execute(True, "_raw\nok\nFAIL\n"),
        "generator_paged": bytes([2, 0]) + getinfo(["count=7"], 3) + execute(False)
                           + execute(False) + execute(False) + execute(True),
        "probe_only": bytes([0, 0]) + getinfo(["decline"]),
        "reply_limit": bytes([32, 0]) + getinfo([]) + execute(True, "_raw\n" + "y" * 9000 + "\n"),
        "bad_option": bytes([0, 0]) + getinfo(["nosuch=1"]),
        "field_limit": bytes([128, 0]) + getinfo([]) + execute(True, "_raw\n" + "z" * 40 + "\n"),
        "crlf_lf": bytes([64, 0]) + getinfo([]) + execute(True, BODY_CRLF),
    },
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
