"""Structured output (``AgentOptions.output_format``): the option checked, what the model is
told, the ``response_format`` field that enforces the schema where the server's profile says
it does, and the model's final answer parsed and validated.

The model's text is untrusted: it is parsed with orjson (bounded nesting, linear time; the
text is already bounded by ``max_response_bytes``) and validated with ``jsonschema`` (a
schema given as a dict) or pydantic (a model class). A failure is never raised: it is a
:class:`Verdict` whose ``error`` the agent loop shows the model when it asks again.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import SchemaError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from pydantic import BaseModel, ValidationError

from ..errors import ConfigurationError
from .aio import describe_exception

__all__ = ["OutputSpec", "Verdict", "output_spec"]

# how much of a validation error the model is shown when it is asked again
_ERROR_CHARS = 600
_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A final answer judged: ``value`` when it matches (``ok``), else ``error`` in words."""

    ok: bool
    value: Any = None
    error: str = ""


class OutputSpec:
    """One ``output_format``: its JSON schema, and the pydantic class when one was given."""

    def __init__(self, schema: dict[str, Any], model: type[BaseModel] | None) -> None:
        self.schema = schema
        self.model = model
        cls = validator_for(schema)
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            raise ConfigurationError(
                f"output_format schema is not a valid JSON schema: {exc.message}"
            ) from None
        self._validator = cls(schema)
        self._schema_text = orjson.dumps(schema).decode()
        title = schema.get("title")
        name = _NAME.sub("_", title)[:64] if isinstance(title, str) and title else ""
        self.name = name or "output"

    def system_prompt(self, base: str | None) -> str:
        """The system prompt with the schema the final answer must match."""
        ask = (
            "When you give your final answer, reply with only a JSON value (no other text, "
            f"no code fence) that matches this JSON schema:\n{self._schema_text}"
        )
        return f"{base}\n\n{ask}" if base else ask

    def response_format(self) -> dict[str, Any]:
        """The OpenAI ``response_format`` that makes a server enforce the schema."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.schema, "strict": True},
        }

    def reask(self, error: str) -> str:
        """The user message sent after an answer that did not match."""
        return (
            f"Your answer does not match the required JSON schema: {error}\n"
            "Reply again with only the JSON value that matches the schema."
        )

    def check(self, text: str) -> Verdict:
        """Parse and validate the model's final text."""
        parsed = _parse(text)
        if parsed is None:
            return Verdict(False, error="the answer is not a JSON value")
        value = parsed[0]
        if self.model is not None:
            try:
                return Verdict(True, self.model.model_validate(value))
            except ValidationError as exc:
                details = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False)
                )
                return Verdict(False, error=_clip(details))
            except Exception as exc:  # a validator of the user's raising other than ValueError
                return Verdict(
                    False,
                    error=_clip(f"the output class's validation raised {describe_exception(exc)}"),
                )
        try:
            problem = best_match(self._validator.iter_errors(value))
        except Exception as exc:  # an unresolvable $ref in the user's schema, say
            return Verdict(False, error=_clip(f"the schema could not be applied: {exc}"))
        if problem is None:
            return Verdict(True, value)
        where = "/".join(str(p) for p in problem.absolute_path) or "(root)"
        return Verdict(False, error=_clip(f"at {where}: {problem.message}"))


def _clip(text: str) -> str:
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def _parse(text: str) -> tuple[Any] | None:
    """The JSON value in ``text``: the whole text, a fenced block, or the span from the first
    ``{``/``[`` to the last ``}``/``]`` (models add prose around it). None if none parses."""
    candidates = [text.strip()]
    # found with str.find, not a regex: ``\s*`` before a lazy ``.*?`` is quadratic in the
    # whitespace after an unclosed fence
    opening = text.find("```")
    if opening >= 0:
        body = opening + 3
        if text.startswith("json", body):
            body += 4
        closing = text.find("```", body)
        if closing >= 0:
            candidates.append(text[body:closing].strip())
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    end = max(text.rfind("}"), text.rfind("]"))
    if starts and end > min(starts):
        candidates.append(text[min(starts) : end + 1])
    for candidate in candidates:
        try:
            return (orjson.loads(candidate),)
        except orjson.JSONDecodeError:
            continue
    return None


def output_spec(value: object) -> OutputSpec | None:
    """``AgentOptions.output_format`` checked: None, ``{"type": "json_schema", "schema":
    {...}}`` or a pydantic model class; anything else is a ConfigurationError."""
    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, BaseModel):
        return OutputSpec(value.model_json_schema(), value)
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            'output_format must be {"type": "json_schema", "schema": {...}} or a pydantic '
            f"model class, got {type(value).__name__}"
        )
    if value.get("type") != "json_schema":
        raise ConfigurationError(
            f"output_format type must be 'json_schema', got {value.get('type')!r}"
        )
    schema = value.get("schema")
    if not isinstance(schema, Mapping):
        raise ConfigurationError("output_format needs a 'schema': a JSON schema object (a dict)")
    try:
        plain = orjson.loads(orjson.dumps(copy.deepcopy(dict(schema))))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ConfigurationError(f"output_format schema is not JSON data: {exc}") from None
    return OutputSpec(plain, None)
