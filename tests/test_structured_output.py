"""output_format (issue 13 item 4): response_format json_schema sent where the server's
profile says it is enforced and never beside tools it would make impossible, the answer
validated, asked again when invalid, and an error result when the retries run out."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sse_server import SSEServer, chunk, opts, sse, text_stream, tool_call

from any_agent import ConfigurationError, ResultMessage, query, tool
from any_agent._wire.servers import PROFILES

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
    "required": ["city", "temp"],
}
FORMAT = {"type": "json_schema", "schema": SCHEMA}


class Weather(BaseModel):
    city: str
    temp: float


@tool
def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "temp": 21.5}


def call_stream() -> bytes:
    return sse(
        chunk(role="assistant", content=None),
        chunk(
            tool_calls=[
                tool_call(
                    0, id="c1", type="function", name="get_weather", arguments='{"city":"Paris"}'
                )
            ]
        ),
        chunk(finish="tool_calls"),
    )


async def run(server: SSEServer, **kw: Any) -> ResultMessage:
    result = None
    async for message in query("weather in Paris?", opts(server, **kw)):
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None
    return result


def bodies(server: SSEServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


async def test_enforced_server_gets_response_format(sse_server: SSEServer) -> None:
    # vLLM: guided decoding honours response_format json_schema
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": 21.5}'))
    result = await run(sse_server, provider="vllm", output_format=FORMAT)
    assert result.structured_output == {"city": "Paris", "temp": 21.5}
    assert result.subtype == "success"
    body = bodies(sse_server)[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert "JSON schema" in body["messages"][0]["content"]  # also told, as pydantic-ai does


async def test_prompted_server_gets_no_response_format(sse_server: SSEServer) -> None:
    # llama-cpp-python answers json_schema response formats with HTTP 500
    sse_server.script.stream(text_stream('Here it is:\n```json\n{"city": "Paris", "temp": 3}\n```'))
    result = await run(
        sse_server, provider="llamacpp-python", output_format=FORMAT, system_prompt="Be exact."
    )
    assert result.structured_output == {"city": "Paris", "temp": 3}
    body = bodies(sse_server)[0]
    assert "response_format" not in body
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("Be exact.\n\n")
    assert '"required":["city","temp"]' in system["content"]


async def test_invalid_answer_is_asked_again(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream('{"city": "Paris"}'))
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": 20}'))
    result = await run(sse_server, output_format=FORMAT, max_turns=5)
    assert result.structured_output == {"city": "Paris", "temp": 20}
    assert result.num_turns == 2
    reask = bodies(sse_server)[1]["messages"][-1]
    assert reask["role"] == "user"
    assert "'temp' is a required property" in reask["content"]


async def test_retries_exhausted_end_with_an_error_result(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("sunny"), times=2)
    result = await run(
        sse_server, output_format=FORMAT, max_structured_output_retries=1, max_turns=9
    )
    assert len(bodies(sse_server)) == 2  # the answer, one retry: never more
    assert result.is_error
    assert result.subtype == "error_max_structured_output_retries"
    assert result.structured_output is None
    assert result.error is not None
    assert "not a JSON value" in result.error
    assert result.result == "sunny"  # the text is kept


async def test_tools_first_then_the_structured_answer_on_vllm(sse_server: SSEServer) -> None:
    # vLLM: an enforced schema beside tools makes tool calls impossible (pydantic-ai#6552)
    sse_server.script.stream(call_stream())
    sse_server.script.stream(text_stream("It is 21.5 degrees in Paris."))
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": 21.5}'))
    result = await run(
        sse_server, provider="vllm", output_format=FORMAT, tools=[get_weather], max_turns=6
    )
    sent = bodies(sse_server)
    assert len(sent) == 3
    assert "tools" in sent[0]
    assert "response_format" not in sent[0]  # the tool turn
    assert "response_format" not in sent[1]  # after the tool result, tools still offered
    # asked again for the structured answer: the schema enforced, and no tools beside it
    assert "response_format" in sent[2]
    assert "tools" not in sent[2]
    assert "parallel_tool_calls" not in sent[2]
    assert result.structured_output == {"city": "Paris", "temp": 21.5}
    assert result.num_tool_calls == 1


async def test_schema_and_tools_together_where_both_work(sse_server: SSEServer) -> None:
    # OpenAI's API honours response_format and tools in one request
    sse_server.script.stream(call_stream())
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": 21.5}'))
    result = await run(
        sse_server, provider="openai", output_format=FORMAT, tools=[get_weather], max_turns=4
    )
    assert all("response_format" in b for b in bodies(sse_server))
    assert result.structured_output == {"city": "Paris", "temp": 21.5}


async def test_pydantic_class_gives_an_instance(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": "x"}'))
    sse_server.script.stream(text_stream('{"city": "Paris", "temp": 7}'))
    result = await run(sse_server, provider="vllm", output_format=Weather, max_turns=3)
    assert result.structured_output == Weather(city="Paris", temp=7)
    assert "temp" in bodies(sse_server)[1]["messages"][-1]["content"]
    assert bodies(sse_server)[0]["response_format"]["json_schema"]["name"] == "Weather"


async def test_without_output_format_nothing_changes(sse_server: SSEServer) -> None:
    sse_server.script.stream(text_stream("hi"))
    result = await run(sse_server, provider="vllm")
    assert result.structured_output is None
    assert "response_format" not in bodies(sse_server)[0]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"type": "json_object"}, "json_schema"),
        ({"type": "json_schema"}, "schema"),
        ({"type": "json_schema", "schema": {"type": "nonsense"}}, "not a valid JSON schema"),
        ("json", "output_format"),
        ({"type": "json_schema", "schema": {"x": object()}}, "not JSON data"),
    ],
)
def test_bad_output_format_is_named(sse_server: SSEServer, value: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        opts(sse_server, output_format=value)


@pytest.mark.parametrize("retries", [-1, 11, True, "2"])
def test_retry_bound_is_checked(sse_server: SSEServer, retries: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_structured_output_retries"):
        opts(sse_server, output_format=FORMAT, max_structured_output_retries=retries)


def test_profiles_are_conservative() -> None:
    enforced = {name for name, p in PROFILES.items() if p.json_schema == "enforced"}
    assert "generic" not in enforced
    assert {"llamacpp-python", "tgi", "tgwui"}.isdisjoint(enforced)  # 500 / 422 / ignored
    assert PROFILES["vllm"].json_schema_excludes_tools
    assert not PROFILES["openai"].json_schema_excludes_tools
