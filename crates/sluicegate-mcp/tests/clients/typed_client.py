"""Call a Sluicegate server whose key is an INTEGER column with the official Python MCP SDK
(pinned mcp==2.3.0), the way a model's client does: read the typed schemas from tools/list,
then call with an integer id, a string of digits, wrong values and a tenant override.

Usage:
  typed_client.py stdio  MODE -- COMMAND ARGS...
  typed_client.py http   MODE URL            (bearer token from $SLUICEGATE_HTTP_TOKEN)

The SDK checks every non-error result against the tool's outputSchema itself, so a result
that does not fit its schema fails this script. Prints one JSON document for the Rust test.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def result_doc(result):
    return {"is_error": bool(result.is_error), "structured": result.structured_content}


async def scenario(client):
    tools = (await client.list_tools()).tools
    out = {
        "tools": [
            {
                "name": t.name,
                "kind": t.meta["synapsor.kind"],
                "input_schema": t.input_schema,
                "output_schema": t.output_schema,
            }
            for t in tools
        ]
    }
    read = next(t.name for t in tools if t.meta["synapsor.kind"] == "read")
    proposal = next(t.name for t in tools if t.meta["synapsor.kind"] == "proposal")
    calls = {
        "integer": (read, {"item_id": 1}),
        "digits": (read, {"item_id": "2"}),
        "not_a_number": (read, {"item_id": "abc"}),
        "fraction": (read, {"item_id": 4.2}),
        "tenant_override": (read, {"item_id": 3, "tenant_id": "otherco"}),
        "other_tenant": (read, {"item_id": 3}),
        "proposal": (proposal, {"item_id": 1, "amount": 50, "reason": "refill"}),
        "amount_too_high": (proposal, {"item_id": 1, "amount": 501, "reason": "refill"}),
    }
    for label, (tool, args) in calls.items():
        out[label] = result_doc(await client.call_tool(tool, args))
    return out


async def main():
    transport, mode = sys.argv[1], sys.argv[2]
    if transport == "stdio":
        command = sys.argv[sys.argv.index("--") + 1 :]
        server = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    else:
        token = os.environ["SLUICEGATE_HTTP_TOKEN"]
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        server = streamable_http_client(sys.argv[3], http_client=http)
    async with Client(server, mode=mode) as client:
        out = await scenario(client)
    print(json.dumps(out, indent=2, sort_keys=True))


asyncio.run(main())
