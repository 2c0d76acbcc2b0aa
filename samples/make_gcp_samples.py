#!/usr/bin/env python3
"""Regenerates the Google Cloud example audit logs in samples/gcp/ (deterministic).

    python3 samples/make_gcp_samples.py

Everything here is invented: the project `contoso-prod-4711`, its project number, the
accounts under .example (RFC 2606), IP addresses in the documentation ranges (RFC 5737).
(No line of this script starts with a brace: `t1651detect scan` sniffs text files for JSON
lines and skips this one as text.)
The shapes follow Google's Cloud Audit Logs `LogEntry` / `AuditLog` format (Admin Activity
and Data Access logs) as `gcloud logging read --format=json` prints it and as the Splunk
Add-on for Google Cloud Platform indexes Pub/Sub messages. See samples/README.md.
"""

import base64
import json
import os
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = "contoso-prod-4711"
PROJECT_NUMBER = "470011223344"
ZONE = "europe-west1-b"
ADMIN = "it.admin@contoso.example"
ATTACKER_IP = "203.0.113.45"
DEPLOYER = f"deployer@{PROJECT}.iam.gserviceaccount.com"
GCLOUD_UA = "google-cloud-sdk gcloud/455.0.0 command/gcloud.compute.instances.add-metadata,gzip(gfe)"

_seq = {"n": 0}


def t(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}" + "Z"


def insert_id():
    _seq["n"] += 1
    return f"-q7x1a2e{_seq['n']:05d}"


def log_name(kind):
    return f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2F{kind}"


def entry(when, method, resource_name, principal, ip, service="compute.googleapis.com",
          op=None, first=False, last=False, metadata=None, request=None, status=None,
          severity="NOTICE", kind="activity", resource=None, delegation=None, ua=GCLOUD_UA):
    auth = {"principalEmail": principal}
    if delegation:
        auth["serviceAccountDelegationInfo"] = [dict(firstPartyPrincipal=dict(principalEmail=d))
                                                 for d in delegation]
    else:
        auth["principalSubject"] = f"user:{principal}"
    pp = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": auth,
        "authorizationInfo": [{"granted": status is None, "permission": method.split(".", 1)[-1],
                               "resource": resource_name}],
        "methodName": method,
        "requestMetadata": {"callerIp": ip, "callerSuppliedUserAgent": ua,
                            "destinationAttributes": {}, "requestAttributes": {"auth": {}, "time": ts(when)}},
        "resourceName": resource_name,
        "serviceName": service,
    }
    if metadata is not None:
        pp["metadata"] = metadata
    if request is not None:
        pp["request"] = request
    if status is not None:
        pp["status"] = status
    e = {
        "insertId": insert_id(),
        "logName": log_name(kind),
        "protoPayload": pp,
        "receiveTimestamp": ts(when + timedelta(milliseconds=731)),
        "resource": resource or {"labels": {"project_id": PROJECT, "zone": ZONE,
                                            "instance_id": "0"}, "type": "gce_instance"},
        "severity": severity,
        "timestamp": ts(when),
    }
    if op:
        e["operation"] = {"id": op, "producer": service}
        if first:
            e["operation"]["first"] = True
        if last:
            e["operation"]["last"] = True
    return e


def instance(name):
    return f"projects/{PROJECT}/zones/{ZONE}/instances/{name}"


def instance_resource(n):
    return {"labels": {"instance_id": f"71234567890123450{n:02d}", "project_id": PROJECT, "zone": ZONE},
            "type": "gce_instance"}


def set_metadata(events, when, vm, n, principal, ip, added=(), deleted=()):
    """First and last record of one setMetadata operation; the key list is on the first."""
    op = f"operation-{int(when.timestamp() * 1000)}-62a1b2c3d4e{n:02d}-0a1b2c3d-4e5f6a{n:02d}"
    delta = {}
    if added:
        delta["addedMetadataKeys"] = list(added)
    if deleted:
        delta["deletedMetadataKeys"] = list(deleted)
    events.append(entry(when, "v1.compute.instances.setMetadata", instance(vm), principal, ip,
                        op=op, first=True, metadata={"instanceMetadataDelta": delta},
                        resource=instance_resource(n)))
    events.append(entry(when + timedelta(seconds=4), "v1.compute.instances.setMetadata",
                        instance(vm), principal, ip, op=op, last=True,
                        resource=instance_resource(n)))


def gcloud_export():
    """`gcloud logging read --format=json`: a pretty-printed array, newest first."""
    ev = []
    # The stolen admin account plants a startup script on four instances, then resets them.
    for i in range(1, 5):
        set_metadata(ev, t("2026-03-14T06:00:05") + timedelta(seconds=40 * (i - 1)), f"app-{i}",
                     i, ADMIN, ATTACKER_IP, added=["startup-script"])
    # Noise: an SSH key for the same account (not T1651), a VM insert, and the clean-up that
    # deletes the script again (a deletion runs nothing).
    set_metadata(ev, t("2026-03-14T06:04:00"), "app-1", 11, ADMIN, ATTACKER_IP, added=["ssh-keys"])
    ev.append(entry(t("2026-03-14T06:05:10"), "v1.compute.instances.insert", instance("app-9"),
                    ADMIN, ATTACKER_IP, op="operation-1773468310000-62a1b2c3d4e99-0a1b2c3d-4e5f6a99",
                    first=True, resource=instance_resource(9)))
    set_metadata(ev, t("2026-03-14T06:08:00"), "app-4", 12, ADMIN, ATTACKER_IP, deleted=["startup-script"])
    # The intern tries the same on app-5 and is refused (no operation is created).
    ev.append(entry(t("2026-03-14T06:07:30"), "v1.compute.instances.setMetadata", instance("app-5"),
                    "intern@contoso.example", "198.51.100.77",
                    request={"@type": "type.googleapis.com/compute.instances.setMetadata",
                             "Metadata Keys Added": ["startup-script"]},
                    status={"code": 7, "message": "Required 'compute.instances.setMetadata' permission"},
                    severity="ERROR", resource=instance_resource(5)))
    ev.sort(key=lambda e: e["timestamp"], reverse=True)
    return ev


def pubsub(entry_obj, encode):
    when = entry_obj["timestamp"]
    data = (base64.b64encode(json.dumps(entry_obj, separators=(",", ":")).encode()).decode()
            if encode else entry_obj)
    return {"attributes": {"logging.googleapis.com/timestamp": when}, "data": data,
            "message_id": f"1100{_seq['n']:08d}", "publish_time": when}


def pubsub_messages():
    """Pub/Sub messages as the Splunk Add-on for GCP indexes them (`google:gcp:pubsub:message`),
    exported one per line: the LogEntry as an object, or base64 in `data`."""
    out = []
    # The admin impersonates the deployer service account and sets a project-wide startup
    # script URL: every instance of the project that does not override it runs it.
    when = t("2026-03-14T06:10:00")
    op = "operation-1773468600000-62a1b2c3d4f01-0a1b2c3d-4e5f6b01"
    project_res = {"labels": {"project_id": PROJECT}, "type": "gce_project"}
    first = entry(when, "v1.compute.projects.setCommonInstanceMetadata", f"projects/{PROJECT}",
                  DEPLOYER, ATTACKER_IP, op=op, first=True,
                  metadata={"projectMetadataDelta": {"addedMetadataKeys": ["startup-script-url"]}},
                  resource=project_res, delegation=[ADMIN])
    last = entry(when + timedelta(seconds=6), "v1.compute.projects.setCommonInstanceMetadata",
                 f"projects/{PROJECT}", DEPLOYER, ATTACKER_IP, op=op, last=True,
                 resource=project_res, delegation=[ADMIN])
    out.append(pubsub(first, encode=False))
    out.append(pubsub(last, encode=False))
    # Then a VM Manager patch job with a pre-patch script (Data Access log, base64 data).
    patch_res = {"labels": {"project_id": PROJECT, "location": "global"}, "type": "audited_resource"}
    job = entry(t("2026-03-14T06:12:30"), "google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob",
                f"projects/{PROJECT_NUMBER}/patchJobs/9f3c2a1b-0000-4000-8000-000000000001",
                DEPLOYER, ATTACKER_IP, service="osconfig.googleapis.com", severity="INFO",
                kind="data_access", resource=patch_res, delegation=[ADMIN],
                ua="google-cloud-sdk gcloud/455.0.0 command/gcloud.compute.os-config.patch-jobs.execute")
    out.append(pubsub(job, encode=True))
    # Noise: reading the job back.
    get = entry(t("2026-03-14T06:13:00"), "google.cloud.osconfig.v1.OsConfigService.GetPatchJob",
                f"projects/{PROJECT_NUMBER}/patchJobs/9f3c2a1b-0000-4000-8000-000000000001",
                DEPLOYER, ATTACKER_IP, service="osconfig.googleapis.com", severity="INFO",
                kind="data_access", resource=patch_res, delegation=[ADMIN])
    out.append(pubsub(get, encode=True))
    return out


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(data)


def main():
    write("gcp/gcloud-logging-read-2026-03-14.json", json.dumps(gcloud_export(), indent=2) + "\n")
    write("gcp/pubsub-messages-2026-03-14.jsonl",
          "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in pubsub_messages()))


if __name__ == "__main__":
    main()
