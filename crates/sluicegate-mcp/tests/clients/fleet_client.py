"""Load a fleet of Sluicegate HTTP servers with the official Python MCP SDK (pinned mcp==2.3.0).

Usage:
  fleet_client.py batch N CLIENTS_PER_URL URL...
      Propose a note for each of the rows W-0 .. W-(N-1), exactly once each, spread over the
      URLs: CLIENTS_PER_URL clients per URL (half of them legacy sessions negotiating
      2025-11-25, which stay on their URL; half stateless 2026-07-28, whose requests a
      client-side balancer sends to each URL in turn, starting at their own) take the next
      row from one shared queue. Prints one JSON document: {"calls": [{"i", "client", "url"
      (the server that answered), "mode", "ok", "code", "reason", "proposal_id",
      "evidence_id"}]}.
  fleet_client.py loop STOP_FILE URL...
      Until STOP_FILE exists: one legacy and one stateless client per URL, each alternating a
      read of row T-1 and a proposal for a row of its own, L-<client>-<k> for k = 0, 1, ...
      (modulo LOOP_ROWS; the test seeds them), with the note "loop <client> <n>"; printing one
      JSON line per answered call as it comes: {"client", "n", "url", "mode", "kind",
      "ticket", "ok", "code", "reason", "proposal_id", "evidence_id"}.

The bearer token comes from $SLUICEGATE_HTTP_TOKEN. Tools are found by their kind in
tools/list. A transport error ends the script with a traceback (the servers never go away in
these tests); a tool refusal is an answer like any other, with its code.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

MODES = ("legacy", "2026-07-28")
LOOP_ROWS = 3000


def answer(result):
    """What the tests check of one tool result: ok, the refusal code, the recorded ids."""
    s = result.structured_content or {}
    ok = not result.is_error and s.get("ok") is True
    error = s.get("error") if isinstance(s.get("error"), dict) else {}
    code = s.get("code") or error.get("code")
    proposal = s.get("proposal") or {}
    evidence = s.get("evidence") or {}
    evidence_id = evidence.get("bundle_id")
    if evidence_id is None and isinstance(s.get("evidence_resource"), str):
        evidence_id = s["evidence_resource"].rsplit("/", 1)[-1]
    return {
        "ok": ok,
        "code": code,
        "reason": error.get("reason"),
        "proposal_id": proposal.get("id"),
        "evidence_id": evidence_id,
    }


class Balancer(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next server in turn. Only a
    stateless (2026-07-28) client can be balanced like this; a legacy session lives on the
    server that opened it."""

    def __init__(self, urls, first):
        self.raw = list(urls)
        self.urls = [httpx2.URL(u) for u in urls]
        self.next = first
        self.last = None
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        k = self.next % len(self.urls)
        self.next += 1
        target = self.urls[k]
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["Host"] = f"{target.host}:{target.port}"
        self.last = self.raw[k]
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


def open_client(url, mode, transport=None):
    token = os.environ["SLUICEGATE_HTTP_TOKEN"]
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=60, transport=transport
    )
    return Client(streamable_http_client(url, http_client=http), mode=mode)


async def tools_by_kind(client):
    tools = (await client.list_tools()).tools
    return {t.meta["synapsor.kind"]: t.name for t in tools}


async def batch(n, per_url, urls):
    queue = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    calls = []

    async def run(client_no, url, mode):
        balancer = Balancer(urls, urls.index(url)) if mode == "2026-07-28" else None
        async with open_client(url, mode, balancer) as client:
            proposal = (await tools_by_kind(client))["proposal"]
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                result = await client.call_tool(proposal, {"ticket_id": f"W-{i}", "note": f"fleet {i}"})
                answered_by = balancer.last if balancer else url
                calls.append(
                    {"i": i, "client": client_no, "url": answered_by, "mode": mode, **answer(result)}
                )

    clients = [(url, MODES[c % 2]) for url in urls for c in range(per_url)]
    await asyncio.gather(*(run(n, url, mode) for n, (url, mode) in enumerate(clients)))
    calls.sort(key=lambda c: c["i"])
    print(json.dumps({"calls": calls}))


async def loop(stop_file, urls):
    async def run(client_no, url, mode):
        async with open_client(url, mode) as client:
            tools = await tools_by_kind(client)
            n = 0
            while not os.path.exists(stop_file):
                if n % 2 == 0:
                    kind, ticket = "read", "T-1"
                    args = {"ticket_id": ticket}
                else:
                    kind, ticket = "proposal", f"L-{client_no}-{(n // 2) % LOOP_ROWS}"
                    args = {"ticket_id": ticket, "note": f"loop {client_no} {n}"}
                result = await client.call_tool(tools[kind], args)
                line = {
                    "client": client_no,
                    "n": n,
                    "url": url,
                    "mode": mode,
                    "kind": kind,
                    "ticket": ticket,
                    **answer(result),
                }
                print(json.dumps(line), flush=True)
                n += 1
                # Pacing, so the load leaves the servers and the database some CPU.
                await asyncio.sleep(0.005)

    await asyncio.gather(
        *(run(c, url, mode) for c, (url, mode) in enumerate((u, m) for u in urls for m in MODES))
    )


def main():
    command = sys.argv[1]
    if command == "batch":
        asyncio.run(batch(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
    elif command == "loop":
        asyncio.run(loop(sys.argv[2], sys.argv[3:]))
    else:
        sys.exit(f"unknown command {command!r}")


main()
