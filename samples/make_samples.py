#!/usr/bin/env python3
"""Regenerates the example audit logs in samples/ (deterministic: same output every run).

    python3 samples/make_samples.py

Everything here is invented: tenants, subscriptions, accounts and GUIDs follow obvious
patterns, domains are under .example (RFC 2606), IP addresses are in the documentation
ranges (RFC 5737 / RFC 3849), AWS account IDs are the ones AWS uses in its own docs.
The shapes follow the Azure Activity Log (REST/portal/CLI and Event Hub/storage record
schemas) and AWS CloudTrail record formats. See samples/README.md for what each file holds
and the findings a scan must report.
"""

import gzip
import io
import json
import os
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))

HOME_TENANT = "aaaa0000-1111-4222-8333-000000000001"  # Contoso (resource tenant)
PARTNER_TENANT = "bbbb0000-1111-4222-8333-000000000002"  # Northwind (partner)
SUB = "cccc0000-1111-4222-8333-000000000003"
AZ_CLI_APPID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # well-known Azure CLI client id
PORTAL_APPID = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"  # well-known Azure portal client id
PATCH_SP = "eeee0000-1111-4222-8333-000000000005"  # patch-orchestrator service principal
ATTACKER_IP = "203.0.113.45"

UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID = "http://schemas.microsoft.com/identity/claims/tenantid"
IDP = "http://schemas.microsoft.com/identity/claims/identityprovider"

_seq = {"n": 0}


def guid(prefix):
    """A visibly fake, unique GUID: <prefix padded>-0000-4000-8000-<counter>."""
    _seq["n"] += 1
    return f"{prefix:0<8}-0000-4000-8000-{_seq['n']:012d}"


def ts(dt, digits=7):
    frac = f"{dt.microsecond:06d}0"[:digits]
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def t(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def user_claims(upn, oid, ip, appid=AZ_CLI_APPID, tenant=HOME_TENANT, guest_of=None):
    c = {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{tenant}/",
        "appid": appid,
        "ipaddr": ip,
        "name": upn.split("@")[0].replace(".", " ").title(),
        OID: oid,
        TID: tenant,
    }
    if guest_of:
        # B2B guest: no upn claim; the home tenant of the account is the identity provider.
        c[IDP] = f"https://sts.windows.net/{guest_of}/"
        c[NAME] = f"northwind.example#{upn}"
        c["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"] = upn
    else:
        c[UPN] = upn
        c[NAME] = upn
    return c


def sp_claims(appid, oid):
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{HOME_TENANT}/",
        "appid": appid,
        "idtyp": "app",
        OID: oid,
        TID: HOME_TENANT,
        "ver": "1.0",
    }


REST_STATUS = {
    "Started": ("Started", "", "BeginRequest"),
    "Accepted": ("Accepted", "Accepted", "EndRequest"),
    "Succeeded": ("Succeeded", "OK", "EndRequest"),
    "Failed": ("Failed", "Conflict", "EndRequest"),
}


def rest_event(when, op, localized, resource_id, rg, caller, claims, status, corr, ip):
    """One Activity Log entry in the REST / portal / `az monitor activity-log list` shape."""
    value, sub_status, event_name = REST_STATUS[status]
    ev_id = guid("e0")
    ticks = int((when - datetime(1, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10**7)
    provider = op.split("/")[0]
    ev = {
        "authorization": {"action": op, "scope": resource_id},
        "caller": caller,
        "channels": "Operation",
        "claims": claims,
        "correlationId": corr,
        "eventDataId": ev_id,
        "eventName": {"value": event_name, "localizedValue": event_name.replace("R", " r")},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "eventTimestamp": ts(when),
        "id": f"{resource_id}/events/{ev_id}/ticks/{ticks}",
        "level": "Error" if status == "Failed" else "Informational",
        "operationId": corr,
        "operationName": {"value": op, "localizedValue": localized},
        "resourceGroupName": rg,
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "resourceType": {"value": resource_type(op), "localizedValue": resource_type(op)},
        "resourceId": resource_id,
        "status": {"value": value, "localizedValue": value},
        "subStatus": {"value": sub_status, "localizedValue": sub_status},
        "submissionTimestamp": ts(when + timedelta(seconds=14)),
        "subscriptionId": SUB,
        "tenantId": HOME_TENANT,
        "properties": {
            "eventCategory": "Administrative",
            "entity": resource_id,
            "message": op,
            "hierarchy": f"{HOME_TENANT}/{SUB}",
        },
    }
    if ip:
        ev["httpRequest"] = {
            "clientRequestId": guid("c1"),
            "clientIpAddress": ip,
            "method": "POST",
        }
    if status == "Succeeded":
        ev["properties"]["statusCode"] = "OK"
    if status == "Failed":
        ev["properties"]["statusCode"] = "Conflict"
        ev["properties"]["statusMessage"] = json.dumps(
            {"error": {"code": "Conflict", "message": "Run command extension execution is in progress."}}
        )
    return ev


def resource_type(op):
    """`Microsoft.Compute/virtualMachines/runCommand/action` -> `Microsoft.Compute/virtualMachines`."""
    parts = op.split("/")
    return "/".join(parts[:-2] if parts[-1].lower() == "action" else parts[:-1])


RUN = "Microsoft.Compute/virtualMachines/runCommand/action"
RUN_VMSS = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action"


def vm_id(rg, vm, provider="Microsoft.Compute", vms="virtualMachines"):
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{provider}/{vms}/{vm}"


def invocation(events, start, op, localized, rid, rg, caller, claims, ip, statuses, final_rid=None):
    """Appends the lifecycle rows of one invocation (one correlationId). `final_rid`, if
    given, is the resource ID spelling of the last row."""
    corr = guid("d0")
    for i, st in enumerate(statuses):
        last = i == len(statuses) - 1
        events.append(rest_event(start + timedelta(seconds=2 * i + (25 if last else 0)),
                                 op, localized, (final_rid or rid) if last else rid, rg, caller,
                                 claims, st, corr, ip))


LIFECYCLE = ["Started", "Accepted", "Succeeded"]


def azure_activity():
    """Portal / `az monitor activity-log list` export: a pretty-printed JSON array."""
    ev = []
    admin = "it.admin@contoso.example"
    admin_claims = user_claims(admin, "a0000000-0000-4000-8000-0000000000a1", ATTACKER_IP)
    lifecycle = LIFECYCLE

    # The sweep: a compromised admin account runs commands on every VM of rg-prod-app.
    when = t("2026-03-14T02:11:05")
    for n in range(1, 7):
        vm = f"vm-app-0{n}"
        rid = vm_id("rg-prod-app", vm)
        # The VM name's case differs between the rows of one invocation.
        final_rid = vm_id("rg-prod-app", "VM-APP-03") if n == 3 else None
        if n == 4:
            # Provider casing varies too: the same operation and type upper-cased.
            rid = (f"/subscriptions/{SUB}/resourceGroups/rg-prod-app/providers/"
                   "MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-APP-04")
        op = RUN.upper() if n == 4 else RUN
        invocation(ev, when, op, "Run Command on Virtual Machine", rid, "rg-prod-app",
                   admin, admin_claims, ATTACKER_IP, lifecycle, final_rid)
        when += timedelta(seconds=41)
    # One attempt fails (Started, then Failed): counted only with include_failed.
    invocation(ev, when, RUN, "Run Command on Virtual Machine",
               vm_id("rg-prod-app", "vm-app-07"), "rg-prod-app", admin, admin_claims,
               ATTACKER_IP, ["Started", "Failed"])
    when += timedelta(seconds=37)
    # A scale-set instance (a different operation, hence its own group).
    invocation(ev, when, RUN_VMSS, "Run Command on Virtual Machine Scale Set VM",
               vm_id("rg-prod-app", "vmss-web/virtualMachines/3", vms="virtualMachineScaleSets"),
               "rg-prod-app", admin, admin_claims, ATTACKER_IP, lifecycle)
    when += timedelta(seconds=52)
    # Two database VMs in another resource group.
    for vm in ("vm-db-01", "vm-db-02"):
        invocation(ev, when, RUN, "Run Command on Virtual Machine", vm_id("rg-prod-data", vm),
                   "rg-prod-data", admin, admin_claims, ATTACKER_IP, lifecycle)
        when += timedelta(seconds=44)
    # Benign: the admin opens SSH on an NSG (not a T1651 operation).
    invocation(ev, when, "Microsoft.Network/networkSecurityGroups/securityRules/write",
               "Create or Update Security Rule",
               f"/subscriptions/{SUB}/resourceGroups/rg-prod-app/providers/Microsoft.Network/"
               "networkSecurityGroups/nsg-app/securityRules/allow-ssh-any", "rg-prod-app",
               admin, admin_claims, ATTACKER_IP, ["Started", "Accepted", "Succeeded"])
    ev.sort(key=lambda e: e["eventTimestamp"])
    return ev


def splunk_export():
    """`mscs:azure:audit` events exported from Splunk (`| table _raw`): REST-shaped JSON
    objects, one per line."""
    ev = []
    lifecycle = LIFECYCLE
    # Routine: the patch orchestrator runs one command on one VM the evening before.
    sp_c = sp_claims(PATCH_SP, "f0000000-0000-4000-8000-0000000000f5")
    invocation(ev, t("2026-03-13T22:00:04"), RUN, "Run Command on Virtual Machine",
               vm_id("rg-prod-app", "vm-app-01"), "rg-prod-app", PATCH_SP, sp_c, None, lifecycle)
    # Benign: the same service principal starts a VM.
    invocation(ev, t("2026-03-13T22:05:00"), "Microsoft.Compute/virtualMachines/start/action",
               "Start Virtual Machine", vm_id("rg-prod-app", "vm-app-02"), "rg-prod-app",
               PATCH_SP, sp_c, None, ["Started", "Succeeded"])

    # A partner tenant's guest account runs commands on the database VMs (cross-tenant).
    guest = "ops@northwind.example"
    guest_claims = user_claims(guest, "b0000000-0000-4000-8000-0000000000b2", "198.51.100.23",
                               appid=PORTAL_APPID, guest_of=PARTNER_TENANT)
    when = t("2026-03-14T04:30:10")
    for vm in ("vm-db-01", "vm-db-02"):
        invocation(ev, when, RUN, "Run Command on Virtual Machine", vm_id("rg-prod-data", vm),
                   "rg-prod-data", guest, guest_claims, "198.51.100.23", lifecycle)
        when += timedelta(seconds=63)
    ev.sort(key=lambda e: e["eventTimestamp"])
    return ev


def record(when, op, rid, result, corr, ip, upn=None, oid=None, category="Administrative",
           sig="", identity=None, principal_type="User", level="Information"):
    """One Event Hub / storage-account record (diagnostic-settings schema)."""
    r = {
        "time": ts(when),
        "resourceId": rid,
        "operationName": op,
        "category": category,
        "resultType": result,
        "resultSignature": sig,
        "durationMs": 0 if result == "Start" else 2711,
        "callerIpAddress": ip,
        "correlationId": corr,
        "level": level,
        "location": "global",
    }
    if identity is not None:
        r["identity"] = identity
    else:
        claims = {
            "aud": "https://management.core.windows.net/",
            "iss": f"https://sts.windows.net/{HOME_TENANT}/",
            "appid": AZ_CLI_APPID if upn else PATCH_SP,
            TID: HOME_TENANT,
            OID: oid,
        }
        if upn:
            claims[UPN] = upn
            claims[NAME] = upn
            claims["ipaddr"] = ip
        r["identity"] = {
            "authorization": {
                "scope": rid.lower(),
                "action": op.title(),
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": f"/subscriptions/{SUB}",
                    "roleAssignmentId": "9a000000000040008000000000000009",
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                    "principalId": oid.replace("-", ""),
                    "principalType": principal_type,
                },
            },
            "claims": claims,
        }
    r["properties"] = {"eventCategory": category, "entity": rid.lower(), "message": op.lower()}
    return r


def eventhub_messages():
    """Event Hub capture: one `{"records":[...]}` message per line, upper-case records."""
    upn = "ops.runbook@contoso.example"
    oid = "a0000000-0000-4000-8000-0000000000a3"
    job = guid("0b")
    rid = (f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/RG-AUTOMATION/PROVIDERS/"
           f"MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/AA-OPS/JOBS/{job.upper()}")
    op = "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/JOBS/WRITE"
    corr = guid("d0")
    when = t("2026-03-14T05:02:11")
    m1 = {"records": [
        record(when, op, rid, "Start", corr, "203.0.113.80", upn, oid, sig="Started."),
        record(when + timedelta(seconds=3), op, rid, "Success", corr, "203.0.113.80", upn, oid,
               sig="Succeeded.Created"),
    ]}
    nsg = (f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/RG-AUTOMATION/PROVIDERS/"
           "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-AUTOMATION")
    corr2 = guid("d0")
    m2 = {"records": [
        record(when + timedelta(minutes=4), "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE", nsg,
               "Start", corr2, "203.0.113.80", upn, oid, sig="Started."),
        record(when + timedelta(minutes=4, seconds=2), "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
               nsg, "Success", corr2, "203.0.113.80", upn, oid, sig="Succeeded.OK"),
        # Another category on the same hub: `identity` is a plain string here.
        record(when + timedelta(minutes=5), "Patch DeviceConfiguration",
               "/TENANTS/" + HOME_TENANT.upper() + "/PROVIDERS/MICROSOFT.INTUNE", "Success",
               guid("d0"), "", category="AuditLogs", identity="ops.runbook@contoso.example"),
    ]}
    return [m1, m2]


def storage_pt1h():
    """Storage account archive (PT1H.json): one record per line."""
    upn = "it.admin@contoso.example"
    oid = "a0000000-0000-4000-8000-0000000000a1"
    op = "MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/WRITE"
    base = f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/RG-PROD-WEB/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES"
    out = []
    when = t("2026-03-14T03:14:40")
    # Routine: the patch orchestrator starts a web VM.
    c0 = guid("d0")
    for i, res in enumerate(["Start", "Success"]):
        out.append(record(when - timedelta(minutes=10) + timedelta(seconds=20 * i),
                          "MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION", f"{base}/VM-WEB-01",
                          res, c0, "", None, "f0000000-0000-4000-8000-0000000000f5",
                          principal_type="ServicePrincipal", sig="Started." if i == 0 else "Succeeded.OK"))
    # The compromised admin installs a CustomScript extension on vm-web-01 ...
    c1 = guid("d0")
    for i, (res, sig) in enumerate([("Start", "Started."), ("Accept", "Accepted.Created"),
                                    ("Success", "Succeeded.Created")]):
        out.append(record(when + timedelta(seconds=30 * i), op,
                          f"{base}/VM-WEB-01/EXTENSIONS/CUSTOMSCRIPTEXTENSION", res, c1,
                          ATTACKER_IP if res != "Success" else "", upn, oid, sig=sig))
    # ... and fails on vm-web-02 (Start, Failure): counted only with include_failed.
    c2 = guid("d0")
    for i, (res, sig) in enumerate([("Start", "Started."), ("Failure", "Failed.Conflict")]):
        out.append(record(when + timedelta(minutes=2, seconds=30 * i), op,
                          f"{base}/VM-WEB-02/EXTENSIONS/CUSTOMSCRIPTEXTENSION", res, c2,
                          ATTACKER_IP, upn, oid, sig=sig,
                          level="Error" if res == "Failure" else "Information"))
    return out


ACCOUNT = "111122223333"


def ct_user(name):
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + name.upper().replace("-", "")[:8].ljust(8, "X") + "EXAMPLE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIA" + name.upper().replace("-", "")[:6].ljust(6, "X") + "EXAMPLE",
        "userName": name,
    }


def ct_role(role, session):
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE{role.upper()[:6]}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE" + role.upper()[:6],
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROAEXAMPLE{role.upper()[:6]}",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-03-14T02:58:00Z", "mfaAuthenticated": "false"},
        },
    }


def ct_event(when, name, identity, ip, req, resp, read_only=False, error=None, ua="aws-cli/2.22.0"):
    e = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ssm.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": req,
        "responseElements": None if error else resp,
        "requestID": guid("4e"),
        "eventID": guid("5e"),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "ssm.us-east-1.amazonaws.com",
        },
    }
    if error:
        e["errorCode"] = error[0]
        e["errorMessage"] = error[1]
    return e


def instance(n):
    return f"i-0a1b2c3d4e5f6{n:04d}"


def send_command(when, identity, ip, doc, ids=None, targets=None, error=None):
    req = {"documentName": doc, "interactive": False, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    if ids is not None:
        req["instanceIds"] = ids
    if targets is not None:
        req["targets"] = targets
    cmd = guid("7c")
    resp = {"command": {
        "commandId": cmd, "documentName": doc, "documentVersion": "$DEFAULT",
        "instanceIds": ids or [], "targets": targets or [],
        "targetCount": len(ids) if ids else 0, "status": "Pending", "statusDetails": "Pending",
        "maxConcurrency": "50", "maxErrors": "0", "timeoutSeconds": 3600,
        "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "requestedDateTime": f"{when:%b} {when.day}, {when.year}, "
                             f"{(when.hour - 1) % 12 + 1}:{when:%M:%S %p}",
    }}
    return ct_event(when, "SendCommand", identity, ip, req, resp, error=error), cmd


def cloudtrail():
    recs = []
    build = ct_user("build-agent")
    when = t("2026-03-14T03:01:12")
    # Reconnaissance: which instances have the SSM agent?
    for i in range(3):
        recs.append(ct_event(when + timedelta(seconds=3 * i), "DescribeInstanceInformation", build,
                             ATTACKER_IP, {"maxResults": 50}, None, read_only=True))
    # The sweep: one SendCommand to 8 instances, then one to 2 more.
    ev, cmd = send_command(t("2026-03-14T03:05:12"), build, ATTACKER_IP, "AWS-RunShellScript",
                           ids=[instance(n) for n in range(1, 9)])
    recs.append(ev)
    for n in (1, 2):
        recs.append(ct_event(t("2026-03-14T03:05:40") + timedelta(seconds=n), "GetCommandInvocation",
                             build, ATTACKER_IP, {"commandId": cmd, "instanceId": instance(n)}, None,
                             read_only=True))
    ev, _ = send_command(t("2026-03-14T03:07:02"), build, ATTACKER_IP, "AWS-RunShellScript",
                         ids=[instance(9), instance(10)])
    recs.append(ev)
    # An intern's key is denied (failed call, no responseElements).
    ev, _ = send_command(t("2026-03-14T03:09:30"), ct_user("intern"), "198.51.100.77",
                         "AWS-RunShellScript", ids=[instance(n) for n in range(11, 16)],
                         error=("AccessDenied",
                                f"User: arn:aws:iam::{ACCOUNT}:user/intern is not authorized to "
                                "perform: ssm:SendCommand because no identity-based policy allows "
                                "the ssm:SendCommand action"))
    recs.append(ev)
    # An administrator opens a Session Manager shell through an assumed role.
    ops = ct_role("OpsAdmin", "jane.doe")
    sess = "jane.doe-0b5e6f7a8c9d0e1f2"
    recs.append(ct_event(t("2026-03-14T03:12:44"), "StartSession", ops, "198.51.100.12",
                         {"target": instance(3)},
                         {"sessionId": sess,
                          "tokenValue": "Value hidden due to security reasons.",
                          "streamUrl": f"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/{sess}?role=publish_subscribe"}))
    # Patch automation (an instance role) targets instances by tag.
    patch = ct_role("PatchAutomation", "i-0fedcba9876543210")
    ev, _ = send_command(t("2026-03-14T03:20:00"), patch, "198.51.100.200", "AWS-RunPowerShellScript",
                         targets=[{"key": "tag:Environment", "values": ["prod"]}])
    recs.append(ev)
    recs.sort(key=lambda r: r["eventTime"])
    return {"Records": recs}


# ---------------------------------------------------------------------------------------------
# Atomic Red Team validation (samples/validation/atomic-*): what the three tests of
# docs/atomic-red-team.md leave in the logs, run the next morning in a lab resource group.
# Generated after the night's files so their GUIDs stay unchanged.

LAB_RG = "rg-atomic-lab"
LAB_IP = "198.51.100.60"
ATOMIC_UPN = "atomic.tester@contoso.example"
ATOMIC_OID = "a0000000-0000-4000-8000-0000000000a7"
ATOMIC_SP_APPID = "eeee0000-1111-4222-8333-000000000017"
ATOMIC_SP_OID = "f0000000-0000-4000-8000-0000000000f7"


def atomic_azure_run_command_user():
    """Test 1 as a user: `az vm run-command invoke --command-id RunPowerShellScript`, exported
    with `az monitor activity-log list` (REST shape, pretty-printed array)."""
    ev = []
    claims = user_claims(ATOMIC_UPN, ATOMIC_OID, LAB_IP)
    invocation(ev, t("2026-03-15T10:02:07"), RUN, "Run Command on Virtual Machine",
               vm_id(LAB_RG, "vm-atomic-win01"), LAB_RG, ATOMIC_UPN, claims, LAB_IP, LIFECYCLE)
    return ev


def atomic_azure_run_command_sp():
    """Test 1 as a service principal (`az login --service-principal`): the caller is the
    service principal's object ID; mscs:azure:audit lines."""
    ev = []
    claims = sp_claims(ATOMIC_SP_APPID, ATOMIC_SP_OID)
    invocation(ev, t("2026-03-15T10:09:31"), RUN, "Run Command on Virtual Machine",
               vm_id(LAB_RG, "vm-atomic-lnx01"), LAB_RG, ATOMIC_SP_OID, claims, None, LIFECYCLE)
    return ev


def atomic_aws_ssm():
    """Test 2: Atomic Red Team T1651-1 (AWS Tools for PowerShell, tag target, comment), then the
    same with the AWS CLI and `--instance-ids`; a CloudTrail delivery file, not compressed."""
    user = ct_user("atomic-tester")
    ps_ua = ("AWSPowerShell/4.1.736.0 .NET_Core/8.0.11 OS/Microsoft_Windows_10.0.22631 "
             "PowerShellCore/7.4.6 ClientAsync")
    recs = []
    ev, cmd = send_command(t("2026-03-15T10:20:44"), user, LAB_IP, "AWS-RunShellScript",
                           targets=[{"key": "tag:AtomicTest", "values": ["T1651-1"]}])
    ev["userAgent"] = ps_ua
    ev["requestParameters"]["comment"] = "Atomic Test T1651-1"
    ev["responseElements"]["command"]["comment"] = "Atomic Test T1651-1"
    recs.append(ev)
    recs.append(ct_event(t("2026-03-15T10:20:51"), "GetCommandInvocation", user, LAB_IP,
                         {"commandId": cmd}, None, read_only=True, ua=ps_ua))
    ev, _ = send_command(t("2026-03-15T10:26:03"), user, LAB_IP, "AWS-RunShellScript",
                         ids=["i-0a7e57c0de0000001"])
    recs.append(ev)
    for r in recs:
        r["awsRegion"] = "us-east-2"
        r["tlsDetails"]["clientProvidedHostHeader"] = "ssm.us-east-2.amazonaws.com"
    return {"Records": recs}


def atomic_azure_automation():
    """Test 3: a runbook is imported and published (`runbooks/write`), started
    (`jobs/write`) and its output read (`jobs/read`); Event Hub capture, one message."""
    acct = (f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/{LAB_RG.upper()}/PROVIDERS/"
            "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/AA-ATOMIC-LAB")
    job = guid("0b").upper()
    when = t("2026-03-15T10:40:12")
    ops = [
        (when, "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/RUNBOOKS/WRITE",
         f"{acct}/RUNBOOKS/ATOMICT1651RUNBOOK", "Succeeded.OK"),
        (when + timedelta(seconds=48), "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/JOBS/WRITE",
         f"{acct}/JOBS/{job}", "Succeeded.Created"),
        (when + timedelta(minutes=2, seconds=5), "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/JOBS/READ",
         f"{acct}/JOBS/{job}", "Succeeded.OK"),
    ]
    return {"records": [record(w, op, rid, "Success", guid("d0"), LAB_IP, ATOMIC_UPN, ATOMIC_OID,
                               sig=sig) for (w, op, rid, sig) in ops]}


def atomic_files():
    write("validation/atomic-azure-run-command-az-cli.json",
          json.dumps(atomic_azure_run_command_user(), indent=2) + "\n")
    write("validation/atomic-azure-run-command-service-principal.jsonl",
          "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in atomic_azure_run_command_sp()))
    write("validation/atomic-aws-ssm-send-command.json",
          json.dumps(atomic_aws_ssm(), separators=(",", ":")) + "\n")
    write("validation/atomic-azure-automation-runbook.json",
          json.dumps(atomic_azure_automation(), separators=(",", ":")) + "\n")


def write(rel, data, mode="text"):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if mode == "gzip":
        raw = json.dumps(data, separators=(",", ":")).encode() + b"\n"
        buf = io.BytesIO()
        # mtime=0 and no file name: the archive is byte-for-byte reproducible.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(raw)
        with open(path, "wb") as f:
            f.write(buf.getvalue())
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(data)


def main():
    write("azure-activity/az-monitor-activity-log-2026-03-14.json",
          json.dumps(azure_activity(), indent=2) + "\n")
    write("splunk-export/mscs_azure_audit.jsonl",
          "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in splunk_export()))
    write("eventhub/insights-activity-logs-capture.json",
          "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in eventhub_messages()))
    write(f"storage/insights-activity-logs/resourceId=/SUBSCRIPTIONS/{SUB.upper()}"
          "/y=2026/m=03/d=14/h=03/m=00/PT1H.json",
          "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in storage_pt1h()))
    write(f"cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/03/14/"
          f"{ACCOUNT}_CloudTrail_us-east-1_20260314T0320Z_SampleFile0001.json.gz",
          cloudtrail(), mode="gzip")
    atomic_files()


if __name__ == "__main__":
    main()
