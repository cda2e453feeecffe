"""Custom tools, claude-agent-sdk style: @tool(name, description, schema) handlers in an
in-process MCP server, used through ClaudeSDKClient.

Written for claude-agent-sdk; ported by changing the import line and nothing else (the
test suite checks that mechanically). The server and the model come from
$ANY_AGENT_BASE_URL and $ANY_AGENT_MODEL.
"""

import anyio

from any_agent import (  # was: from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    tool,
)


@tool("greet", "Greet someone by name", {"name": str})
async def greet(args):
    return {"content": [{"type": "text", "text": f"Hello, {args['name']}!"}]}


@tool("add", "Add two numbers", {"a": float, "b": float})
async def add(args):
    total = args["a"] + args["b"]
    return {"content": [{"type": "text", "text": f"{args['a']} + {args['b']} = {total}"}]}


@tool("divide", "Divide a by b", {"a": float, "b": float})
async def divide(args):
    if args["b"] == 0:
        return {"content": [{"type": "text", "text": "cannot divide by zero"}], "is_error": True}
    return {"content": [{"type": "text", "text": f"{args['a'] / args['b']}"}]}


def show(message):
    if isinstance(message, UserMessage):
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                marker = "error" if block.is_error else "result"
                print(f"[{marker}] {block.content[:100]}")
    elif isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, ToolUseBlock):
                print(f"[call] {block.name}({block.input})")
            elif isinstance(block, TextBlock):
                print(f"[{message.model}] {block.text}")
    elif isinstance(message, SystemMessage):
        pass
    elif isinstance(message, ResultMessage):
        print(f"[{message.subtype}] {message.num_turns} turns, error={message.is_error}")
        if message.total_cost_usd:
            print(f"cost: ${message.total_cost_usd:.4f}")


async def main():
    calculator = create_sdk_mcp_server(name="calculator", version="1.0.0", tools=[add, divide])
    people = create_sdk_mcp_server(name="people", version="1.0.0", tools=[greet])
    options = ClaudeAgentOptions(
        system_prompt="Use the tools for arithmetic and greetings.",
        mcp_servers={"calc": calculator, "people": people},
        # auto-approved; any other tool would still be offered, but its calls refused
        allowed_tools=["mcp__calc__add", "mcp__calc__divide", "mcp__people__greet"],
    )
    async with ClaudeSDKClient(options=options) as client:
        await client.query("Please greet Alice")
        async for message in client.receive_response():
            print(message)

        for prompt in ["Calculate 15 + 27 with add", "What is 1 divided by 0? Use divide"]:
            print(f"> {prompt}")
            await client.query(prompt)
            async for message in client.receive_response():
                show(message)


anyio.run(main)
