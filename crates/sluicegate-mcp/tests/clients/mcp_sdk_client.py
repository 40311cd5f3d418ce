"""Drive a Sluicegate MCP server with the official Python MCP SDK (pinned mcp==2.3.0).

Usage:
  mcp_sdk_client.py stdio  MODE -- COMMAND ARGS...
  mcp_sdk_client.py http   MODE URL            (bearer token from $SLUICEGATE_HTTP_TOKEN)

MODE is `legacy` (initialize handshake, negotiates 2025-11-25) or `2026-07-28` (stateless).
Prints one JSON document describing what the server answered; the Rust test asserts on it.
Tool names are discovered from tools/list (canonical or alias, whatever the server lists).
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def result_doc(result):
    text = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    return {
        "is_error": bool(result.is_error),
        "structured": result.structured_content,
        "text": text,
    }


async def expect_error(coro):
    try:
        result = await coro
    except MCPError as e:
        return {"raised": True, "code": e.error.code, "message": e.error.message}
    return {"raised": False, "result": result_doc(result)}


async def scenario(client):
    out = {"protocol_version": client.protocol_version}
    info = client.server_info
    out["server_info"] = {"name": info.name, "version": info.version} if info else None
    tools = (await client.list_tools()).tools
    out["tools"] = [
        {
            "name": t.name,
            "title": t.title,
            "input_schema": t.input_schema,
            "output_schema": t.output_schema,
            "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None,
            "meta": t.meta,
        }
        for t in tools
    ]
    read = next(t.name for t in tools if t.meta["synapsor.kind"] == "read")
    proposal = next(t.name for t in tools if t.meta["synapsor.kind"] == "proposal")
    out["read"] = result_doc(await client.call_tool(read, {"invoice_id": "INV-3001"}))
    out["other_tenant"] = result_doc(await client.call_tool(read, {"invoice_id": "INV-9001"}))
    out["proposal"] = result_doc(
        await client.call_tool(proposal, {"invoice_id": "INV-3002", "reason": "first late payment"})
    )
    out["unknown_tool"] = await expect_error(client.call_tool("billing.drop_table", {}))
    out["wrong_type"] = await expect_error(client.call_tool(read, {"invoice_id": 42}))
    out["missing"] = await expect_error(client.call_tool(read, {}))
    out["extra"] = await expect_error(client.call_tool(read, {"invoice_id": "INV-3001", "sql": "select 1"}))
    out["tenant_override"] = await expect_error(
        client.call_tool(read, {"invoice_id": "INV-9001", "tenant_id": "otherco"})
    )
    templates = (await client.list_resource_templates()).resource_templates
    out["templates"] = [t.uri_template for t in templates]
    evidence = out["read"]["structured"].get("evidence_resource") or (
        "synapsor://evidence/" + out["read"]["structured"]["evidence"]["bundle_id"]
    )
    contents = (await client.read_resource(evidence)).contents
    out["evidence"] = json.loads(contents[0].text)
    out["missing_resource"] = await expect_error(client.read_resource("synapsor://proposals/wrp_does_not_exist"))
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
