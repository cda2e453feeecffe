"""The smallest useful program: one prompt, the answer, and what it cost."""

from __future__ import annotations

import asyncio

from _common import server_args

from any_agent import AgentOptions, AssistantMessage, ResultMessage, query


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        system_prompt="You are a concise assistant.",
        model=args.model,
        base_url=args.base_url,
        temperature=0.1,
        max_tokens=128,
    )
    async for message in query(prompt="Name three prime numbers.", options=options):
        if isinstance(message, AssistantMessage):
            print(message.text)
        elif isinstance(message, ResultMessage):
            print(
                f"[stop={message.stop_reason} turns={message.num_turns} "
                f"ttft={message.time_to_first_token_ms}ms tok/s={message.tokens_per_second}]"
            )


if __name__ == "__main__":
    asyncio.run(main())
