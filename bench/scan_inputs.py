#!/usr/bin/env python3
"""Writes the offline-scan benchmark inputs: the same generated Activity Log events as
JSON lines, as one one-line CloudTrail-style {"Records":[...]} document, and as a
pretty-printed portal array.

    python3 bench/scan_inputs.py DIR [EVENTS]     # default 1,100,000 events: ~1 GB each

Only the standard library; deterministic output.
"""
import os
import sys


def event(i):
    return (
        '{"caller":"user%d@contoso.example","correlationId":"d0000000-0000-4000-8000-%012d",'
        '"eventTimestamp":"2026-03-14T02:%02d:05.0000000Z","operationName":{"value":'
        '"Microsoft.Compute/virtualMachines/runCommand/action","localizedValue":"Run Command on Virtual Machine"},'
        '"status":{"value":"Succeeded","localizedValue":"Succeeded"},"resourceGroupName":"rg-%d",'
        '"resourceId":"/subscriptions/cccc0000-1111-4222-8333-000000000003/resourceGroups/rg-%d/providers/'
        'Microsoft.Compute/virtualMachines/vm-%d","subscriptionId":"cccc0000-1111-4222-8333-000000000003",'
        '"tenantId":"aaaa0000-1111-4222-8333-000000000001","claims":{"aud":"https://management.core.windows.net/",'
        '"appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","ipaddr":"203.0.113.%d",'
        '"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"user%d@contoso.example",'
        '"http://schemas.microsoft.com/identity/claims/tenantid":"aaaa0000-1111-4222-8333-000000000001"},'
        '"httpRequest":{"clientIpAddress":"203.0.113.%d","method":"POST"},'
        '"properties":{"eventCategory":"Administrative","statusCode":"OK"}}'
        % (i % 97, i, i % 60, i % 13, i % 13, i, i % 250, i % 97, i % 250)
    )


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_100_000
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "lines.jsonl"), "w") as lines, open(
        os.path.join(out, "records.json"), "w"
    ) as doc, open(os.path.join(out, "portal.json"), "w") as pretty:
        doc.write('{"Records":[')
        pretty.write("[\n")
        for i in range(n):
            e = event(i)
            lines.write(e + "\n")
            doc.write(("," if i else "") + e)
            pretty.write((",\n" if i else "") + "  " + e)
        doc.write("]}")
        pretty.write("\n]\n")


if __name__ == "__main__":
    main()
