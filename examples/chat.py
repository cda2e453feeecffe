"""A multi-turn chat that streams each answer token by token and keeps the history."""

from __future__ import annotations

import asyncio
import json

from _common import server_args

from any_agent import AgentOptions, Client, ResultMessage, TextBlock, ThinkingBlock


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        system_prompt="You are a helpful assistant. Answer in one sentence.",
        model=args.model,
        base_url=args.base_url,
        max_tokens=96,
    )
    async with Client(options) as client:
        for prompt in ("My name is Ada. What is 2 + 2?", "What is my name?"):
            print(f"> {prompt}")
            await client.query(prompt)
            async for block in client.receive_messages():
                if isinstance(block, TextBlock):
                    print(block.text, end="", flush=True)
                elif isinstance(block, ThinkingBlock):
                    pass  # reasoning, if the model produces any
                elif isinstance(block, ResultMessage):
                    print(f"\n[{block.stop_reason}]")
        # history is plain data: save it, and continue later with Client(options, history=...)
        print(json.dumps(client.history)[:200], "...")


if __name__ == "__main__":
    asyncio.run(main())
