"""A misbehaving MCP server speaking raw JSON-RPC on stdio (the ``mcp`` package's servers
cannot misbehave this way), for tests/test_mcp_attack.py.

``python hostile_server.py MODE [ARG]``; MODE says what goes wrong:
- ``tools NAME[,NAME...]``: offers these tool names (duplicates, newlines, ``__`` kept as given)
- ``slow-once FLAG``: the first run (FLAG absent: it is created) never answers; later runs serve
- ``bad-result KIND``: a call's result is valid JSON-RPC but not a valid CallToolResult
  (``video``: an unknown content type; ``structured-list``: structuredContent that is a list;
  ``output-schema``: structuredContent breaking the tool's outputSchema)
Otherwise it offers one tool ``t`` that echoes its arguments."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

MODE = sys.argv[1] if len(sys.argv) > 1 else "plain"
ARG = sys.argv[2] if len(sys.argv) > 2 else ""


def send(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
    sys.stdout.buffer.flush()


def tools() -> list[dict[str, Any]]:
    names = ARG.split(",") if MODE == "tools" else ["t"]
    listed: list[dict[str, Any]] = [{"name": n, "inputSchema": {"type": "object"}} for n in names]
    if MODE == "bad-result" and ARG == "output-schema":
        listed[0]["outputSchema"] = {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
        }
    return listed


def result(params: dict[str, Any]) -> dict[str, Any]:
    if MODE == "bad-result":
        return {
            "video": {"content": [{"type": "video", "url": "x"}]},
            "structured-list": {"content": [], "structuredContent": [1, 2]},
            "output-schema": {"content": [], "structuredContent": {"n": "many"}},
        }[ARG]
    return {"content": [{"type": "text", "text": "echo " + json.dumps(params.get("arguments"))}]}


def main() -> None:
    if MODE == "slow-once" and not os.path.exists(ARG):
        open(ARG, "w").close()
        while True:
            time.sleep(1)
    for line in sys.stdin.buffer:
        message = json.loads(line)
        ident, method = message.get("id"), message.get("method")
        if ident is None:
            continue  # a notification
        if method == "initialize":
            answer: dict[str, Any] = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "0"},
            }
        elif method == "tools/list":
            answer = {"tools": tools()}
        elif method == "tools/call":
            answer = result(message.get("params") or {})
        else:
            answer = {}
        send({"jsonrpc": "2.0", "id": ident, "result": answer})


if __name__ == "__main__":
    main()
