"""A claude-agent-sdk program run on a local model: structured output, hooks, allowed_tools.

Written for claude-agent-sdk; ported by changing the import line and nothing else (the
test suite checks that mechanically). The server and the model come from $ANY_AGENT_BASE_URL
and $ANY_AGENT_MODEL. Claude Code's built-in tools (Bash, Read, ...) do not exist here, so the
one tool comes from an in-process MCP server.
"""

import asyncio
from typing import Any

from any_agent import (  # was: from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    ResultMessage,
    TextBlock,
    ToolUseBlock,
    create_sdk_mcp_server,
    tool,
)

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


@tool("get_weather", "Current weather for a city", {"city": str})
async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
    report = f"{args['city']}: 21 °C, clear sky"
    return {"content": [{"type": "text", "text": report}]}


async def log_tool_use(input_data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
    print(f"[hook] {input_data['tool_name']}({input_data['tool_input']})")
    return {}


async def no_passwords(input_data: dict[str, Any], tool_use_id: Any, context: Any) -> Any:
    if "password" in input_data["prompt"].lower():
        return {"decision": "block", "reason": "prompts may not contain passwords"}
    return {}


async def main() -> None:
    options = ClaudeAgentOptions(
        system_prompt="Use the tools when they help.",
        mcp_servers={"weather": create_sdk_mcp_server(name="weather", tools=[get_weather])},
        allowed_tools=["mcp__weather__get_weather"],  # auto-approved; others would be refused
        hooks={
            "PreToolUse": [HookMatcher(matcher="mcp__weather__get_weather", hooks=[log_tool_use])],
            "UserPromptSubmit": [HookMatcher(hooks=[no_passwords])],
        },
        output_format={"type": "json_schema", "schema": ANSWER_SCHEMA},
        max_turns=6,
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("What's the weather in Paris?")
        async for message in client.receive_response():
            if isinstance(message, AssistantMessage):
                for block in message.content:
                    if isinstance(block, ToolUseBlock):
                        print(f"[tool] {block.name}({block.input})")
                    elif isinstance(block, TextBlock):
                        print(block.text)
            elif isinstance(message, ResultMessage):
                print(f"[{message.subtype}] structured: {message.structured_output}")


if __name__ == "__main__":
    asyncio.run(main())
