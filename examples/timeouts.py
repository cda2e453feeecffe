"""Three separate time bounds, and the typed errors they raise."""

from __future__ import annotations

import asyncio

from _common import server_args

from any_agent import (
    AgentOptions,
    AnyAgentError,
    ConnectionFailedError,
    FirstTokenTimeoutError,
    IdleTimeoutError,
    OverallTimeoutError,
    ResultMessage,
    query,
)


async def main() -> None:
    args = server_args(__doc__ or "")
    options = AgentOptions(
        model=args.model,
        base_url=args.base_url,
        max_tokens=64,
        first_token_timeout=120,  # a cold model load may take this long
        idle_timeout=30,  # but once streaming, 30 s of silence means it is stuck
        timeout=300,  # and nothing takes longer than this
        max_retries=1,
    )
    try:
        async for message in query(prompt="Count from 1 to 5.", options=options):
            if isinstance(message, ResultMessage):
                print(f"done: {message.result!r}")
    except FirstTokenTimeoutError as exc:
        print(f"the server did not start answering within {exc.limit}s")
    except IdleTimeoutError as exc:
        print(f"the stream stalled for more than {exc.limit}s")
    except OverallTimeoutError as exc:
        print(f"the request took longer than {exc.limit}s")
    except ConnectionFailedError as exc:
        print(f"no server at {exc.url}")
    except AnyAgentError as exc:
        print(f"failed: {exc}")


if __name__ == "__main__":
    asyncio.run(main())
