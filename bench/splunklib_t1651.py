#!/usr/bin/env python3
"""The yardstick: T1651 detection as a splunklib (splunk-sdk) ReportingCommand.

The same core logic as `t1651detect` (mode=summary, default options), written the way a
Splunk developer would with the Python SDK:
  * parse `_raw` JSON (Azure REST / Event Hub records, CloudTrail);
  * status families (Start/Started, Accept/Accepted, Success/Succeeded, Failure/Failed);
  * invocation collapse: Azure rows sharing (operation, correlationId, target) are one
    invocation; failed if any row failed, else succeeded/in progress; failed ones not counted;
  * group by (caller, resource group, subscription, operation) and count invocations and
    distinct VMs (multi_vm_targeting when > threshold).
Used only by bench/splunklib_compare.sh; not part of the app.
"""
import json
import sys
import time

from splunklib.searchcommands import Configuration, Option, ReportingCommand, dispatch, validators

AZURE_OPS = {
    "microsoft.compute/virtualmachines/runcommand/action",
    "microsoft.compute/virtualmachines/runcommands/write",
    "microsoft.compute/virtualmachinescalesets/virtualmachines/runcommand/action",
    "microsoft.compute/virtualmachinescalesets/virtualmachines/runcommands/write",
    "microsoft.compute/virtualmachines/extensions/write",
    "microsoft.compute/virtualmachinescalesets/extensions/write",
    "microsoft.automation/automationaccounts/jobs/write",
    "microsoft.hybridcompute/machines/runcommands/write",
    "microsoft.hybridcompute/machines/extensions/write",
}
AWS_OPS = {"sendcommand", "startsession", "createassociation", "startautomationexecution"}
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
FAMILY = {
    "start": "progress", "started": "progress", "accept": "progress", "accepted": "progress",
    "success": "success", "succeeded": "success", "failure": "failed", "failed": "failed",
}


def value(v):
    """REST objects carry {"value": ...}; records carry plain strings."""
    if isinstance(v, dict):
        return v.get("value") or ""
    return v or ""


def vm_of(resource_id):
    parts = resource_id.split("/")
    low = [p.lower() for p in parts]
    for i, p in enumerate(low):
        if p == "virtualmachinescalesets" and i + 3 < len(low) and low[i + 2] == "virtualmachines":
            return "vm", (parts[i + 1] + "/" + parts[i + 3]).lower()
    for i, p in enumerate(low):
        if p in ("virtualmachines", "machines") and i + 1 < len(low):
            return "vm", parts[i + 1].lower()
        if p == "automationaccounts" and i + 1 < len(low):
            return "resource", parts[i + 1].lower()
    return "resource", resource_id.lower()


def rg_of(resource_id):
    low = resource_id.lower().split("/")
    return low[low.index("resourcegroups") + 1] if "resourcegroups" in low[:-1] else ""


@Configuration(requires_preop=False)
class T1651Py(ReportingCommand):
    threshold = Option(require=False, validate=validators.Integer(0), default=3)

    def reduce(self, records):
        # splunklib calls reduce() once per execute chunk (protocol.md §10, quirk 3): keep the
        # state across chunks and answer on splunkd's last request, as t1651detect does.
        if not hasattr(self, "_inv"):
            self._inv = {}  # key -> [group key, outcome flags, targets, ips, first, last]
        invocations = self._inv
        for rec in records:
            try:
                ev = json.loads(rec.get("_raw", ""))
            except ValueError:
                continue
            if not isinstance(ev, dict):
                continue
            t = float(rec.get("_time") or 0)
            src = ev.get("eventSource", "")
            if src.endswith(".amazonaws.com"):
                name = ev.get("eventName", "").lower()
                if src.lower() != "ssm.amazonaws.com" or name not in AWS_OPS:
                    continue
                ui = ev.get("userIdentity") or {}
                if ui.get("type") == "AssumedRole":
                    caller = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn", "")
                else:
                    caller = ui.get("arn", "")
                rp = ev.get("requestParameters") or {}
                targets = list(rp.get("instanceIds") or [])
                if rp.get("target"):
                    targets.append(rp["target"])
                for tg in rp.get("targets") or []:
                    targets.extend("%s=%s" % (tg.get("key"), v) for v in tg.get("values") or [])
                err = ev.get("errorCode")
                flag = "failed" if err and err.lower() != "success" else "success"
                group = (caller, "", ev.get("recipientAccountId", ""), "ssm.amazonaws.com/" + name)
                key = ("aws", ev.get("requestID") or ev.get("eventID") or len(invocations))
                invocations[key] = [group, {flag}, set(targets), {ev.get("sourceIPAddress", "")}, t, t]
                continue
            op = value(ev.get("operationName")).lower()
            if op not in AZURE_OPS:
                continue
            status = value(ev.get("status")) or ev.get("resultType") or ""
            flag = FAMILY.get(status.lower(), "progress")
            claims = ev.get("claims") or (ev.get("identity") or {}).get("claims") or {}
            caller = (ev.get("caller") or claims.get(UPN) or claims.get(NAME) or claims.get("appid") or "").lower()
            rid = ev.get("resourceId") or ev.get("resourceUri") or ""
            kind, target = vm_of(rid)
            rg = (ev.get("resourceGroupName") or rg_of(rid)).lower()
            ip = ev.get("callerIpAddress") or (ev.get("httpRequest") or {}).get("clientIpAddress") or ""
            group = (caller, rg, (ev.get("subscriptionId") or rid.split("/")[2] if rid.count("/") > 2 else "").lower(), op)
            corr = ev.get("correlationId")
            key = (op, corr, target) if corr else ("row", len(invocations))
            inv = invocations.get(key)
            if inv is None:
                invocations[key] = [group, {flag}, {target} if kind == "vm" else set(), {ip} if ip else set(), t, t]
            else:
                inv[1].add(flag)
                inv[3].update([ip] if ip else [])
                inv[4] = min(inv[4], t)
                inv[5] = max(inv[5], t)
        if not self._finished:
            return
        groups = {}
        for group, flags, vms, ips, first, last in invocations.values():
            g = groups.setdefault(group, {"n": 0, "failed": 0, "vms": set(), "ips": set(), "first": first, "last": last})
            if "failed" in flags:
                g["failed"] += 1
                continue
            g["n"] += 1
            g["vms"] |= vms
            g["ips"] |= {i for i in ips if i}
            g["first"] = min(g["first"], first)
            g["last"] = max(g["last"], last)
        rows = [(k, g) for k, g in groups.items() if g["n"] > 0]
        rows.sort(key=lambda kg: (-kg[1]["n"], kg[0]))
        for (caller, rg, sub, op), g in rows:
            yield {
                "_time": g["first"],
                "event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(g["first"])),
                "caller_identity": caller, "resource_group": rg, "subscription_id": sub,
                "operation_lower": op, "invocation_count": g["n"], "failed_count": g["failed"],
                "targeted_vms": sorted(g["vms"]), "vm_count": len(g["vms"]),
                "source_ips": sorted(g["ips"]), "first_seen": g["first"], "last_seen": g["last"],
                "duration_seconds": g["last"] - g["first"],
                "multi_vm_targeting": "TRUE" if len(g["vms"]) > self.threshold else "FALSE",
            }


dispatch(T1651Py, sys.argv, sys.stdin, sys.stdout, __name__)
