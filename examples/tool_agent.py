"""An agent with @tool functions: the SDK runs them and feeds the results back."""

from __future__ import annotations

import asyncio
from typing import Literal

from _common import server_args

from any_agent import (
    AgentOptions,
    AssistantMessage,
    ResultMessage,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
    tool,
)


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: Temperature unit.
    """
    temp = 21 if unit == "celsius" else 70
    return {"city": city, "temperature": temp, "unit": unit, "sky": "clear"}


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        system_prompt="Use the tools when they help. After a tool result, answer in words.",
        model=args.model,
        base_url=args.base_url,
        tools=[get_weather],
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
            print(
                f"[{message.stop_reason}: {message.num_turns} turns, "
                f"{message.num_tool_calls} tool calls]"
            )


if __name__ == "__main__":
    asyncio.run(main())
