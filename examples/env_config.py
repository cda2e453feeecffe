"""Configuration from the environment, with fallbacks and provider shortcuts.

Priority: explicit value > $ANY_AGENT_MODEL / $ANY_AGENT_BASE_URL > fallback > provider default.
"""

from __future__ import annotations

import asyncio
import os

from _common import server_args

from any_agent import AgentOptions, TextBlock, query
from any_agent.config import PROVIDER_DEFAULTS, get_base_url, get_model


async def main() -> None:
    args = server_args(__doc__ or "")
    os.environ.setdefault("ANY_AGENT_BASE_URL", args.base_url)
    os.environ.setdefault("ANY_AGENT_MODEL", args.model)
    for name, url in PROVIDER_DEFAULTS.items():
        print(f"provider {name:9} default {url}")
    options = AgentOptions(
        model=get_model("qwen2.5-coder-1.5b"),  # env first, then this fallback
        base_url=get_base_url(provider="llamacpp"),  # env first, then llama.cpp's default
        max_tokens=64,
    )
    print(f"using {options.model} at {options.base_url}")
    async for message in query(prompt="Say hello in French.", options=options):
        for block in getattr(message, "content", []):
            if isinstance(block, TextBlock):
                print(block.text)


if __name__ == "__main__":
    asyncio.run(main())
