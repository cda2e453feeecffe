"""Tools you run yourself: the model asks, you answer with add_tool_result()."""

from __future__ import annotations

import asyncio
from typing import Any

from _common import server_args

from any_agent import AgentOptions, Client, ResultMessage, TextBlock, ToolUseBlock, ToolUseError

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def run_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"city": arguments.get("city"), "temp_c": 21, "sky": "clear"}


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        system_prompt="Use the tools when they help. After a tool result, answer in words.",
        model=args.model,
        base_url=args.base_url,
        tools=[WEATHER],
        max_turns=4,
        temperature=0,
    )
    async with Client(options) as client:
        await client.query("What is the weather in Paris?")
        async for block in client.receive_messages():
            if isinstance(block, TextBlock):
                print(block.text, end="", flush=True)
            elif isinstance(block, ToolUseBlock):
                print(f"\n[tool call] {block.name}({block.input})")
                client.add_tool_result(block.id, run_tool(block.name, block.input))
            elif isinstance(block, ToolUseError):
                print(f"\n[malformed call] {block.error}")  # the model is told, and may retry
            elif isinstance(block, ResultMessage):
                print(f"\n[{block.stop_reason} after {block.num_turns} turns]")


if __name__ == "__main__":
    asyncio.run(main())
