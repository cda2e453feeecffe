"""A claude-agent-sdk program run on a local model: structured output, hooks, allowed_tools.

Written for claude-agent-sdk; ported by changing the import line. The server and the model
come from $ANY_AGENT_BASE_URL and $ANY_AGENT_MODEL. Claude Code's built-in tools (Bash,
Read, ...) do not exist here, so the one tool is an @tool function given with ``tools=``
(with an MCP server in ``mcp_servers=`` instead, that line would be claude-agent-sdk's too).
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
    tool,
)

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature": 21, "sky": "clear"}


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
        allowed_tools=["get_weather"],  # auto-approved; any other tool would be refused
        hooks={
            "PreToolUse": [HookMatcher(matcher="get_weather", hooks=[log_tool_use])],
            "UserPromptSubmit": [HookMatcher(hooks=[no_passwords])],
        },
        output_format={"type": "json_schema", "schema": ANSWER_SCHEMA},
        tools=[get_weather],
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
