"""Start a Sluicegate server from a client config snippet the way a desktop client does, with
the official Python MCP SDK (pinned mcp==2.3.0), and read one invoice.

Usage:
  snippet_client.py FILE KEY...

FILE is a client config file (Claude Desktop, Cursor, VS Code or a generic entry); KEY... is the
path to the server entry in it (`mcpServers sluicegate`, `servers sluicegate`, or nothing for a
generic entry). The entry's command, args and env are used as written, from the root directory:
the SDK adds only its default inherited variables (HOME, PATH, ...), as desktop clients do.
Prints one JSON document; the Rust test asserts on it.
"""

import asyncio
import json
import sys

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters


async def main():
    with open(sys.argv[1]) as f:
        entry = json.load(f)
    for key in sys.argv[2:]:
        entry = entry[key]
    server = StdioServerParameters(
        command=entry["command"], args=entry.get("args", []), env=entry.get("env"), cwd="/"
    )
    async with Client(server, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        read = next(t.name for t in tools if t.meta["synapsor.kind"] == "read")
        result = await client.call_tool(read, {"invoice_id": "INV-3001"})
        out = {
            "tools": [t.name for t in tools],
            "is_error": bool(result.is_error),
            "structured": result.structured_content,
        }
    print(json.dumps(out, indent=2, sort_keys=True))


asyncio.run(main())
