"""MCP servers, claude-agent-sdk style: an external stdio server (mcp_servers/weather_server.py,
written with the `mcp` package) beside an in-process one, their tools named
mcp__<server>__<tool> in allowed_tools and disallowed_tools, a can_use_tool callback for the rest.

Written for claude-agent-sdk; ported by changing the import line and nothing else (the
test suite checks that mechanically). The server and the model come from
$ANY_AGENT_BASE_URL and $ANY_AGENT_MODEL. The stdio server needs the `mcp` package
(pip install 'any-agent-sdk[mcp]').
"""

import asyncio
import sys
from pathlib import Path

from any_agent import (  # was: from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    tool,
)

WEATHER_SERVER = Path(__file__).resolve().parent / "mcp_servers" / "weather_server.py"


@tool("to_fahrenheit", "Convert degrees Celsius to Fahrenheit", {"celsius": float})
async def to_fahrenheit(args):
    return {"content": [{"type": "text", "text": f"{args['celsius'] * 9 / 5 + 32:.1f} °F"}]}


async def ask_before_converting(tool_name, tool_input, context):
    # only reached for tools that are neither allowed nor disallowed
    if tool_name == "mcp__units__to_fahrenheit" and tool_input.get("celsius", 0) < 1000:
        return PermissionResultAllow()
    return PermissionResultDeny(message=f"{tool_name} is not allowed here")


async def main():
    units = create_sdk_mcp_server(name="units", version="1.0.0", tools=[to_fahrenheit])
    options = ClaudeAgentOptions(
        system_prompt="Use the tools when they help. After a tool result, answer in words.",
        mcp_servers={
            "weather": {"type": "stdio", "command": sys.executable, "args": [str(WEATHER_SERVER)]},
            "units": units,
        },
        allowed_tools=["mcp__weather__get_weather"],
        disallowed_tools=["mcp__weather__forecast"],  # never offered to the model
        can_use_tool=ask_before_converting,
        max_turns=4,
    )
    prompts = ["What's the weather in Paris? Use get_weather", "Convert 21 C with to_fahrenheit"]
    async with ClaudeSDKClient(options=options) as client:
        for prompt in prompts:
            print(f"> {prompt}")
            await client.query(prompt)
            async for message in client.receive_response():
                if isinstance(message, AssistantMessage):
                    for block in message.content:
                        if isinstance(block, ToolUseBlock):
                            print(f"[call] {block.name}({block.input})")
                elif isinstance(message, UserMessage) and isinstance(message.content, list):
                    for block in message.content:
                        if isinstance(block, ToolResultBlock):
                            print(f"[result] {block.content}")
                elif isinstance(message, ResultMessage):
                    print(f"[{message.subtype}] {message.result}")


if __name__ == "__main__":
    asyncio.run(main())
