#!/usr/bin/env python3
"""Writes the hand-made seed corpora in fuzz/corpus/<target>/ (committed; re-run to regenerate).

Every seed is built here from the documented protocol shapes (protocol.md sections 2, 3, 5, 6),
with byte counts computed, not copied from any recording.
"""
import base64
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

SUB = "/subscriptions/0a0a0000-1111-4222-8333-00000000000a/resourceGroups/rg-web"
VM = SUB + "/providers/Microsoft.Compute/virtualMachines/web-01"
AZ_RUN = {
    "authorization": {"action": "Microsoft.Compute/virtualMachines/runCommand/action", "scope": VM},
    "caller": "ops@example.org",
    "claims": {"http://schemas.microsoft.com/identity/claims/tenantid": "1b1b0000-1111-4222-8333-00000000001b",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "ops@example.org"},
    "correlationId": "2c2c0000-1111-4222-8333-00000000002c",
    "eventTimestamp": "2026-03-14T03:20:00.1234567Z",
    "operationName": {"value": "Microsoft.Compute/virtualMachines/runCommand/action"},
    "status": {"value": "Succeeded"}, "subStatus": {"value": "OK"},
    "resourceId": VM, "resourceGroupName": "rg-web",
    "subscriptionId": "0a0a0000-1111-4222-8333-00000000000a",
    "tenantId": "1b1b0000-1111-4222-8333-00000000001b",
    "httpRequest": {"clientIpAddress": "198.51.100.7"},
}
AZ_EVENTHUB = {
    "time": "2026-03-14T03:21:00Z",
    "resourceId": (SUB + "PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/SS1/VIRTUALMACHINES/3/EXTENSIONS/CUSTOMSCRIPT").upper(),
    "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/VIRTUALMACHINES/EXTENSIONS/WRITE",
    "category": "Administrative", "resultType": "Start", "resultSignature": "Started.",
    "callerIpAddress": "203.0.113.9", "correlationId": "3D3D0000-1111-4222-8333-00000000003D",
    "identity": {"authorization": {"scope": "x", "evidence": {"principalId": "abc", "principalType": "ServicePrincipal"}},
                 "claims": {"appid": "5e5e0000-1111-4222-8333-00000000005e"}},
    "level": "Information", "properties": {"statusCode": "Created"},
}
AWS_SEND = {
    "eventVersion": "1.09",
    "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:alice",
                     "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice", "accountId": "111122223333",
                     "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin",
                                                          "accountId": "111122223333", "userName": "Admin"}}},
    "eventTime": "2026-03-14T03:22:00Z", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
    "awsRegion": "eu-west-1", "sourceIPAddress": "192.0.2.10",
    "requestParameters": {"instanceIds": ["i-0123456789abcdef0", "i-0fedcba9876543210"],
                          "documentName": "AWS-RunShellScript",
                          "targets": [{"key": "tag:Env", "values": ["prod"]}]},
    "requestID": "4f4f0000-1111-4222-8333-00000000004f", "eventID": "6a6a0000-1111-4222-8333-00000000006a",
    "recipientAccountId": "111122223333",
}
AWS_SESSION_FAILED = dict(AWS_SEND, eventName="StartSession", errorCode="AccessDenied",
                          requestParameters={"target": "i-0123456789abcdef0"})


def js(o):
    return json.dumps(o, separators=(",", ":"))


# Google Cloud: the first record of a setMetadata operation adding a startup script.
GCP_SET = {
    "insertId": "-x1", "logName": "projects/p-1/logs/cloudaudit.googleapis.com%2Factivity",
    "operation": {"first": True, "id": "operation-1", "producer": "compute.googleapis.com"},
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": "sa@p-1.iam.gserviceaccount.com",
                               "serviceAccountDelegationInfo": [{"firstPartyPrincipal": {"principalEmail": "u@example.com"}}]},
        "metadata": {"instanceMetadataDelta": {"addedMetadataKeys": ["startup-script"]}},
        "methodName": "v1.compute.instances.setMetadata",
        "requestMetadata": {"callerIp": "203.0.113.5"},
        "resourceName": "projects/p-1/zones/us-central1-a/instances/vm-1",
        "serviceName": "compute.googleapis.com"},
    "receiveTimestamp": "2026-03-14T06:00:01.1Z", "resource": {"labels": {"zone": "us-central1-a"}, "type": "gce_instance"},
    "severity": "NOTICE", "timestamp": "2026-03-14T06:00:00.5Z",
}


SEEDS["detect_normalize_json"] = {
    "azure_rest_runcommand": b"\x01" + js(AZ_RUN).encode(),
    "azure_eventhub_upper_glued": b"\x00" + js(AZ_EVENTHUB).encode(),
    "aws_sendcommand": b"\x00" + js(AWS_SEND).encode(),
    "aws_startsession_failed": b"\x01" + js(AWS_SESSION_FAILED).encode(),
    "azure_truncated": b"\x01" + js(AZ_RUN).encode()[:300],
    "wrong_types": b"\x02" + js(dict(AZ_RUN, operationName=7, status=[1, 2], correlationId={"a": None})).encode(),
    "not_json": b"\x01" + b"Mar 14 03:20:00 host sshd[1]: not an audit record",
    "gcp_setmetadata": b"\x00" + js(GCP_SET).encode(),
    "gcp_pubsub_base64": b"\x01" + js({"data": base64.b64encode(js(GCP_SET).encode()).decode(), "message_id": "1"}).encode(),
    "gcp_truncated": b"\x01" + js({"data": GCP_SET}).encode()[:400],
}
# detect_normalize_fields is a structured target (arbitrary); these byte strings give it a start.
SEEDS["detect_normalize_fields"] = {
    "bytes_a": bytes(range(0, 256, 3)),
    "bytes_b": b"\x02\x00\x05\x01\x10\x00\x03\x01\x00\x02\x07\x01\x00\x01\x04" * 8,
    "text": b"operationName.value=Microsoft.Compute/virtualMachines/runCommand/action status=Succeeded",
}
SEEDS["detect_resource_id"] = {
    "vm_runcommand": VM + "/runCommands/rc1",
    "vmss_instance_extension": SUB + "/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0/extensions/ext",
    "glued_upper": (SUB + "PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM1/EXTENSIONS/X").upper(),
    "arc_machine": SUB + "/providers/Microsoft.HybridCompute/machines/arc-1/extensions/e",
    "automation_job": SUB + "/providers/Microsoft.Automation/automationAccounts/aa/jobs/j1",
    "repeated_missing": "//subscriptions//subscriptions/x/resourceGroups/providers/providers/a/b/",
    "scope_rg_only": "/subscriptions/x/resourceGroups/rg",
}


def input_doc(stanzas, key="ab12cd34ef56gh78ij90"):
    body = "".join('<stanza name="%s" app="t1651_cloud_admin_command">%s</stanza>' % (n, "".join(
        '<param name="%s">%s</param>' % kv if isinstance(kv[1], str) else
        '<param_list name="%s">%s</param_list>' % (kv[0], "".join("<value>%s</value>" % v for v in kv[1]))
        for kv in params)) for n, params in stanzas)
    return ('<?xml version="1.0" encoding="UTF-8"?><input><server_host>sh1</server_host>'
            "<server_uri>https://127.0.0.1:8089</server_uri><session_key>%s</session_key>"
            "<checkpoint_dir>/opt/splunk/var/lib/splunk/modinputs/t1651_cloud_audit</checkpoint_dir>"
            "<configuration>%s</configuration></input>" % (key, body))


AZURE_PARAMS = [("cloud", "azure"), ("tenant_id", "1b1b0000-1111-4222-8333-00000000001b"),
                ("client_id", "5e5e0000-1111-4222-8333-00000000005e"), ("credential", "azure_prod"),
                ("subscription_ids", ["0a0a0000-1111-4222-8333-00000000000a"]), ("interval", "300"),
                ("start_from", "24h")]
AWS_PARAMS = [("cloud", "aws"), ("access_key_id", "AKIAEXAMPLE"), ("credential", "aws_prod"),
              ("regions", "us-east-1,eu-west-1"), ("role_arn", "arn:aws:iam::111122223333:role/Reader")]
SEEDS["modinput_config_xml"] = {
    "input_azure_aws": input_doc([("t1651_cloud_audit://az", AZURE_PARAMS), ("t1651_cloud_audit://aws", AWS_PARAMS)]),
    "input_bad_values": input_doc([("t1651_cloud_audit://x", [("cloud", "gcp"), ("tenant_id", "nope")])]),
    "input_utf16": b"\xff\xfe" + input_doc([("t1651_cloud_audit://az", AZURE_PARAMS)]).replace(
        "UTF-8", "UTF-16").encode("utf-16-le"),
    "input_entities_cdata": input_doc([("t1651_cloud_audit://a&amp;b", [("cloud", "<![CDATA[azure]]>"),
                                                                   ("credential", "&#x41;&lt;")])]),
    "validation": ('<?xml version="1.0" encoding="UTF-8"?><items><server_host>sh1</server_host>'
                   "<server_uri>https://127.0.0.1:8089</server_uri><session_key>k3y0123456789abc</session_key>"
                   "<checkpoint_dir>/tmp/cp</checkpoint_dir><item name=\"az\">%s</item></items>" % "".join(
                       '<param name="%s">%s</param>' % kv for kv in AWS_PARAMS)),
    "no_checkpoint": "<input><configuration/></input>",
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
