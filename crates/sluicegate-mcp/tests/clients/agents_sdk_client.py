"""Drive a Sluicegate MCP server with the OpenAI Agents SDK (pinned openai-agents==0.24.0).

Usage:
  agents_sdk_client.py stdio -- COMMAND ARGS...
  agents_sdk_client.py http URL          (bearer token from $SLUICEGATE_HTTP_TOKEN)

The server is expected to run with --alias-mode openai (function names without dots). Lists
the tools, calls a read and a proposal, converts the tools to Agents SDK function tools (the
step that rejects dotted names), and prints one JSON document. No OpenAI API key is needed.
"""

import asyncio
import json
import os
import sys

from agents.mcp import MCPServerStdio, MCPServerStreamableHttp, MCPUtil


def result_doc(result):
    text = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    return {"is_error": bool(result.is_error), "structured": result.structured_content, "text": text}


async def main():
    transport = sys.argv[1]
    if transport == "stdio":
        command = sys.argv[sys.argv.index("--") + 1 :]
        server = MCPServerStdio(
            params={"command": command[0], "args": command[1:], "env": dict(os.environ)},
            name="sluicegate",
            cache_tools_list=True,
            client_session_timeout_seconds=30,
        )
    else:
        token = os.environ["SLUICEGATE_HTTP_TOKEN"]
        server = MCPServerStreamableHttp(
            params={"url": sys.argv[2], "headers": {"Authorization": f"Bearer {token}"}, "timeout": 30},
            name="sluicegate",
            cache_tools_list=True,
            client_session_timeout_seconds=30,
        )
    out = {}
    async with server:
        tools = await server.list_tools()
        out["tools"] = [{"name": t.name, "meta": t.meta} for t in tools]
        function_tools = [MCPUtil.to_function_tool(t, server, False) for t in tools]
        out["function_tools"] = [f.name for f in function_tools]
        read = next(t.name for t in tools if t.meta["synapsor.kind"] == "read")
        proposal = next(t.name for t in tools if t.meta["synapsor.kind"] == "proposal")
        out["read"] = result_doc(await server.call_tool(read, {"invoice_id": "INV-3001"}))
        out["proposal"] = result_doc(
            await server.call_tool(proposal, {"invoice_id": "INV-3001", "reason": "customer paid within grace"})
        )
        out["tenant_override"] = result_doc(
            await server.call_tool(read, {"invoice_id": "INV-9001", "tenant_id": "otherco"})
        )
    print(json.dumps(out, indent=2, sort_keys=True))


asyncio.run(main())
