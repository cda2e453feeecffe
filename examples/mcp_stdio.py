"""Tools from an MCP server: a stdio subprocess (mcp_servers/weather_server.py) whose tools
the model calls as mcp__weather__<tool>. Needs the extra: pip install 'any-agent-sdk[mcp]'."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _common import server_args

from any_agent import (
    AgentOptions,
    AssistantMessage,
    ResultMessage,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
)

WEATHER_SERVER = Path(__file__).resolve().parent / "mcp_servers" / "weather_server.py"


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        system_prompt="Use the tools when they help. After a tool result, answer in words.",
        model=args.model,
        base_url=args.base_url,
        # claude-agent-sdk's config shape; the server starts with the query and stops after it
        mcp_servers={"weather": {"command": sys.executable, "args": [str(WEATHER_SERVER)]}},
        max_turns=4,
        temperature=0,
    )
    async for message in query(prompt="What's the weather in Paris?", options=options):
        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, ToolUseBlock):
                    print(f"[call] {block.name}({block.input})")
            if message.text:
                print(message.text)
        elif isinstance(message, UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    print(f"[result] {block.content}")
        elif isinstance(message, ResultMessage):
            print(f"[{message.stop_reason}: {message.num_tool_calls} tool calls]")


if __name__ == "__main__":
    asyncio.run(main())
