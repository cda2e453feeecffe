"""Structured output, claude-agent-sdk style: output_format with a JSON schema (here a pydantic
model's), the validated answer read from ResultMessage.structured_output.

Written for claude-agent-sdk; ported by changing the import line and nothing else (the
test suite checks that mechanically). The server and the model come from
$ANY_AGENT_BASE_URL and $ANY_AGENT_MODEL.
"""

import asyncio

from pydantic import BaseModel

from any_agent import ClaudeAgentOptions, ResultMessage, query  # was: from claude_agent_sdk


class City(BaseModel):
    name: str
    country: str
    population_millions: float


PLAIN_SCHEMA = {
    "type": "object",
    "properties": {
        "capital": {"type": "string"},
        "rivers": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["capital", "rivers"],
}


async def main():
    options = ClaudeAgentOptions(
        output_format={"type": "json_schema", "schema": City.model_json_schema()}
    )
    async for message in query(prompt="Describe the largest city in France", options=options):
        if isinstance(message, ResultMessage):
            if message.subtype == "success" and message.structured_output:
                city = City.model_validate(message.structured_output)
                print(f"city: {city.name}, {city.country}, {city.population_millions}M")
            elif message.subtype == "error_max_structured_output_retries":
                print("no valid answer:", message.result)

    options = ClaudeAgentOptions(output_format={"type": "json_schema", "schema": PLAIN_SCHEMA})
    async for message in query(prompt="The capital of France and its rivers", options=options):
        if isinstance(message, ResultMessage) and message.structured_output:
            print("plain:", message.structured_output)


asyncio.run(main())
