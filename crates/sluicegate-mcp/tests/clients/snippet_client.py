"""Start a Sluicegate server from a client config snippet the way a desktop client does, with
the official Python MCP SDK (pinned mcp==2.3.0), and read one invoice, or make the calls of a
scenario.

Usage:
  snippet_client.py FILE KEY... [--calls CALLS]

FILE is a client config file (Claude Desktop, Cursor, VS Code or a generic entry); KEY... is the
path to the server entry in it (`mcpServers sluicegate`, `servers sluicegate`, or nothing for a
generic entry). The entry's command, args and env are used as written, from the root directory:
the SDK adds only its default inherited variables (HOME, PATH, ...), as desktop clients do.

Without --calls it reads invoice INV-3001 with the first read tool. CALLS is a JSON file
{"label": ["tool", {arguments}], ...}: each call is made in order and its result is reported
under its label, with every listed tool's schemas. The SDK checks every successful result
against its tool's outputSchema. Prints one JSON document; the Rust test asserts on it.
"""

import asyncio
import json
import sys

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters


def result_doc(result):
    return {"is_error": bool(result.is_error), "structured": result.structured_content}


async def scenario(client, tools, calls):
    out = {
        "tools": [t.name for t in tools],
        "tool_defs": [
            {
                "name": t.name,
                "kind": t.meta["synapsor.kind"],
                "input_schema": t.input_schema,
                "output_schema": t.output_schema,
            }
            for t in tools
        ],
        "calls": {},
    }
    for label, (tool, args) in calls.items():
        out["calls"][label] = result_doc(await client.call_tool(tool, args))
    return out


async def main():
    args = sys.argv[1:]
    calls = None
    if "--calls" in args:
        i = args.index("--calls")
        with open(args[i + 1]) as f:
            calls = json.load(f)
        args = args[:i] + args[i + 2 :]
    with open(args[0]) as f:
        entry = json.load(f)
    for key in args[1:]:
        entry = entry[key]
    server = StdioServerParameters(
        command=entry["command"], args=entry.get("args", []), env=entry.get("env"), cwd="/"
    )
    async with Client(server, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        if calls is not None:
            print(json.dumps(await scenario(client, tools, calls), indent=2, sort_keys=True))
            return
        read = next(t.name for t in tools if t.meta["synapsor.kind"] == "read")
        result = await client.call_tool(read, {"invoice_id": "INV-3001"})
        out = {
            "tools": [t.name for t in tools],
            "is_error": bool(result.is_error),
            "structured": result.structured_content,
        }
    print(json.dumps(out, indent=2, sort_keys=True))


asyncio.run(main())
