"""@tool: schemas from hints and docstrings, validation, execution, results, the registry."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import functools
import threading
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Optional, TypeVar

import pytest
from pydantic import BaseModel, Field
from typing_extensions import NotRequired, TypedDict

from any_agent import AgentOptions, ToolDefinitionError, ToolResultError
from any_agent._agent.registry import ToolRegistry
from any_agent.tools import Tool, ToolOutput, result_to_text, tool

OBJECT = {"type": "object", "additionalProperties": False}


def params(t: Tool[Any, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = t.definition["function"]["parameters"]
    return parameters


def one(annotation: Any, default: Any = ...) -> dict[str, Any]:
    """The schema of a single parameter ``x`` with this annotation."""

    def f(x):  # type: ignore[no-untyped-def]
        return x

    f.__annotations__ = {"x": annotation}
    if default is not ...:
        f.__defaults__ = (default,)
    prop: dict[str, Any] = params(tool(f))["properties"]["x"]
    return prop


# --------------------------------------------------------------------------- schemas


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    city: str
    title: str | None = None  # a property named "title" must survive title-stripping


class Point(TypedDict):
    x: int
    label: NotRequired[str]


@dataclasses.dataclass
class Size:
    width: float
    height: float = 1.0


class TreeNode(BaseModel):
    name: str
    children: list[TreeNode] = []


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Any, {}),
        (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
        (Literal[1, 2], {"enum": [1, 2], "type": "integer"}),
        (Literal["only"], {"const": "only", "type": "string"}),
        (Color, {"enum": ["red", "green"], "type": "string"}),
        (Level, {"enum": [1, 2], "type": "integer"}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (list, {"type": "array", "items": {}}),
        (set[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (dict[str, Any], {"type": "object", "additionalProperties": True}),
        (
            dict[str, list[float]],
            {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "number"}},
            },
        ),
        (datetime.date, {"type": "string", "format": "date"}),
        (
            Address,
            {
                "type": "object",
                "description": "A postal address.",
                "properties": {
                    "city": {"type": "string"},
                    "title": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
                "required": ["city"],
            },
        ),
        (
            Point,
            {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "label": {"type": "string"}},
                "required": ["x"],
                "additionalProperties": False,
            },
        ),
        (
            Size,
            {
                "type": "object",
                "properties": {
                    "width": {"type": "number"},
                    "height": {"type": "number", "default": 1.0},
                },
                "required": ["width"],
                "additionalProperties": False,
            },
        ),
        (
            list[Address],
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "A postal address.",
                    "properties": {
                        "city": {"type": "string"},
                        "title": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "default": None,
                        },
                    },
                    "required": ["city"],
                },
            },
        ),
        (Annotated[int, Field(ge=1, le=5)], {"type": "integer", "minimum": 1, "maximum": 5}),
        (Annotated[str, "the user's name"], {"type": "string", "description": "the user's name"}),
    ],
    ids=lambda v: getattr(v, "__name__", None) or repr(v)[:30],
)
def test_schema_per_annotation(annotation: Any, schema: dict[str, Any]) -> None:
    assert one(annotation) == schema


def test_full_definition_shape_and_required_fields() -> None:
    @tool
    def get_weather(
        city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int | None = None
    ) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: The city name.
            unit: Temperature unit.
        """
        return {}

    assert get_weather.definition == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city name."},
                    "unit": {
                        "type": "string",
                        "enum": ["celsius", "fahrenheit"],
                        "default": "celsius",
                        "description": "Temperature unit.",
                    },
                    "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
    assert list(get_weather.definition["function"]["parameters"]) == [
        "type",
        "properties",
        "required",
        "additionalProperties",
    ]


def test_no_parameters() -> None:
    @tool
    def now() -> str:
        return "12:00"

    assert params(now) == {"properties": {}, **OBJECT}
    assert now.description == ""


def test_schema_has_no_titles_and_no_refs_for_nested_models() -> None:
    @tool
    def ship(to: Address, parcels: list[Size]) -> str:
        return "ok"

    text = repr(ship.definition)
    assert "'title': '" not in text  # only the property *named* title remains
    assert "$ref" not in text
    assert "$defs" not in text
    assert params(ship)["properties"]["to"]["properties"]["title"]["default"] is None


def test_recursive_model_keeps_only_its_own_def() -> None:
    @tool
    def plant(tree: TreeNode) -> str:
        return tree.name

    node = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/TreeNode"}, "default": []},
        },
        "required": ["name"],
    }
    assert params(plant) == {
        "properties": {"tree": node},
        "required": ["tree"],
        **OBJECT,
        "$defs": {"TreeNode": node},
    }


async def test_recursive_model_validates() -> None:
    @tool
    def count(tree: TreeNode) -> int:
        return 1 + sum(len(c.children) + 1 for c in tree.children)

    out = await count.run({"tree": {"name": "a", "children": [{"name": "b", "children": []}]}})
    assert out == ToolOutput("2")


def test_field_description_beats_docstring_and_annotated_string() -> None:
    @tool
    def f(
        a: Annotated[int, Field(description="from Field")],
        b: Annotated[int, "from Annotated"],
        c: int = Field(3, description="from default Field", ge=0),
        d: int = 0,
    ) -> int:
        """Do it.

        Args:
            a: from docstring a
            b: from docstring b
            c: from docstring c
            d: from docstring d
        """
        return 0

    props = params(f)["properties"]
    assert props["a"]["description"] == "from Field"
    assert props["b"]["description"] == "from Annotated"
    assert props["c"] == {
        "type": "integer",
        "default": 3,
        "minimum": 0,
        "description": "from default Field",
    }
    assert props["d"]["description"] == "from docstring d"
    assert params(f)["required"] == ["a", "b"]


async def test_field_default_is_applied_when_argument_missing() -> None:
    @tool
    def f(c: int = Field(3, ge=0)) -> int:
        return c * 2

    assert await f.run({}) == ToolOutput("6")
    assert (await f.run({"c": -1})).is_error


# --------------------------------------------------------------------------- docstrings

GOOGLE = """Search the index.

    Results are ranked.

    Args:
        query (str): The text
            to find.
        limit: At most this many.

    Returns:
        The hits.
    """

REST = """Search the index.

    Results are ranked.

    :param query: The text
        to find.
    :param int limit: At most this many.
    :type limit: int
    :returns: the hits
    """

NUMPY = """Search the index.

    Results are ranked.

    Parameters
    ----------
    query : str
        The text
        to find.
    limit : int
        At most this many.

    Returns
    -------
    list
        The hits.
    """


@pytest.mark.parametrize("doc", [GOOGLE, REST, NUMPY], ids=["google", "rest", "numpy"])
def test_docstring_styles(doc: str) -> None:
    def search(query: str, limit: int = 10) -> list[str]:
        return []

    search.__doc__ = doc
    t = tool(search)
    assert t.description == "Search the index.\n\nResults are ranked."
    props = params(t)["properties"]
    assert props["query"]["description"] == "The text to find."
    assert props["limit"]["description"] == "At most this many."
    assert "Returns" not in t.description


def test_docstring_without_sections_is_all_description() -> None:
    @tool
    def f(x: int) -> int:
        """Double a number."""
        return 2 * x

    assert f.description == "Double a number."
    assert "description" not in params(f)["properties"]["x"]


# --------------------------------------------------------------------------- overrides


def test_name_and_description_overrides() -> None:
    @tool(name="lookup-v2", description="  Look it up.  ")
    def lookup(key: str) -> str:
        """Ignored docstring.

        Args:
            key: The key.
        """
        return key

    fn = lookup.definition["function"]
    assert (fn["name"], fn["description"]) == ("lookup-v2", "Look it up.")
    assert fn["parameters"]["properties"]["key"]["description"] == "The key."
    assert lookup.name == "lookup-v2"


def test_bare_and_called_forms_are_equivalent() -> None:
    def f(x: int) -> int:
        return x

    assert tool(f).definition == tool()(f).definition


@pytest.mark.parametrize("bad", ["has space", "", "x" * 65, "naïve"])
def test_invalid_name_override(bad: str) -> None:
    with pytest.raises(ToolDefinitionError, match="tool name"):
        tool(name=bad)(lambda: None)


def test_positional_string_is_a_clear_error() -> None:
    with pytest.raises(ToolDefinitionError, match=r"@tool\(name='x'\)"):
        tool("x")  # type: ignore[call-overload]


def test_tool_stays_callable_and_keeps_metadata() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert add(2, 3) == 5
    assert add.__name__ == "add"
    assert add.__doc__ == "Add."
    assert add.function(1, 1) == 2
    assert repr(add) == "Tool(name='add')"


async def test_async_tool_stays_awaitable() -> None:
    @tool
    async def twice(x: int) -> int:
        return 2 * x

    assert twice.is_async
    assert await twice(4) == 8


def test_definition_is_a_copy() -> None:
    @tool
    def f(x: int) -> int:
        return x

    f.definition["function"]["parameters"]["properties"]["x"]["type"] = "string"
    f.parameters["properties"].clear()
    assert params(f)["properties"]["x"] == {"type": "integer"}


def test_methods_partials_and_callable_objects() -> None:
    class Greeter:
        def hello(self, who: str) -> str:
            """Say hello."""
            return f"hello {who}"

        def __call__(self, who: str) -> str:
            """Shout."""
            return who.upper()

    def scale(factor: int, x: int) -> int:
        """Scale x."""
        return factor * x

    method = tool(Greeter().hello)
    assert (method.name, method.description) == ("hello", "Say hello.")
    assert params(method)["required"] == ["who"]
    obj = tool(Greeter())
    assert (obj.name, obj.description) == ("Greeter", "Shout.")
    part = tool(functools.partial(scale, 3))
    assert (part.name, part.description) == ("scale", "Scale x.")
    assert list(params(part)["properties"]) == ["x"]


# --------------------------------------------------------------------------- bad definitions


def _callable(f: Callable[[int], int]) -> None: ...
def _missing(x, y: int) -> None: ...  # type: ignore[no-untyped-def]
def _star(*items: int) -> None: ...
def _kwargs(**options: str) -> None: ...
def _object(o: object) -> None: ...
def _bytes(b: bytes) -> None: ...
def _int_keys(d: dict[int, str]) -> None: ...
def _nested(xs: list[Callable[[], None]]) -> None: ...
def _model_field(m: _BadModel) -> None: ...
def _unresolved(x: NoSuchType) -> None: ...  # type: ignore[name-defined]  # noqa: F821
def _typevar(x: T) -> None: ...


T = TypeVar("T")


class _BadModel(BaseModel):
    handler: Callable[[], None]


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (_callable, r"'_callable': parameter 'f' has an unsupported annotation Callable"),
        (_missing, r"'_missing': parameter 'x' has no type annotation"),
        (_star, r"'_star': parameter \*items is not supported"),
        (_kwargs, r"'_kwargs': parameter \*\*options is not supported"),
        (_object, r"'_object': parameter 'o' .*'object' has no JSON schema; use Any"),
        (_bytes, r"'_bytes': parameter 'b' has an unsupported annotation bytes"),
        (_int_keys, r"'_int_keys': parameter 'd' .* dict keys must be str, not int"),
        (_nested, r"'_nested': parameter 'xs' .*Callable\[\[\], None\] is not a JSON value"),
        (_model_field, r"'_model_field': parameter 'm' .*field _BadModel.handler"),
        (
            _unresolved,
            r"'_unresolved': the annotation of parameter 'x' cannot be resolved .*NoSuchType",
        ),
        (_typevar, r"'_typevar': parameter 'x' .*type variable"),
    ],
    ids=lambda v: getattr(v, "__name__", "match"),
)
def test_unsupported_definitions_fail_at_decoration(
    function: Callable[..., Any], match: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=match):
        tool(function)


def test_tool_definition_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        tool(_object)


# --------------------------------------------------------------------------- run


async def test_validation_error_does_not_call_the_function() -> None:
    calls: list[Any] = []

    @tool
    def book(city: str, nights: int, mode: Literal["a", "b"] = "a") -> str:
        calls.append((city, nights))
        return "booked"

    out = await book.run({"nights": "many", "mode": "c", "pets": True})
    assert out.is_error
    assert calls == []
    assert out.content == (
        "invalid arguments for tool 'book': missing required argument 'city'; "
        "'nights': Input should be a valid integer, unable to parse string as an integer "
        "(got \"many\"); 'mode': Input should be 'a' or 'b' (got \"c\"); "
        "unexpected argument 'pets'"
    )


async def test_validation_error_names_nested_fields() -> None:
    @tool
    def ship(to: Address, items: list[Size]) -> str:
        return "x"

    out = await ship.run({"to": {}, "items": [{"width": 1}, {"width": "wide"}]})
    assert out.is_error
    assert "missing required argument 'to.city'" in out.content
    assert "'items[1].width': Input should be a valid number" in out.content


@pytest.mark.parametrize("arguments", [[], "x", None, 3])
async def test_arguments_that_are_not_an_object(arguments: Any) -> None:
    @tool
    def f(x: int = 1) -> int:
        return x

    out = await f.run(arguments)
    assert out.is_error
    assert "the arguments must be a JSON object" in out.content


async def test_lenient_coercion_and_nested_values_arrive_typed() -> None:
    seen: dict[str, Any] = {}

    @tool
    def f(n: int, name: str, color: Color, to: Address, p: Point, s: Size) -> str:
        seen.update(n=n, name=name, color=color, to=to, p=p, s=s)
        return "ok"

    out = await f.run(
        {
            "n": "7",
            "name": 12345,
            "color": "green",
            "to": {"city": "Oslo"},
            "p": {"x": 1},
            "s": {"width": 2},
        }
    )
    assert out == ToolOutput("ok")
    assert seen == {
        "n": 7,
        "name": "12345",
        "color": Color.GREEN,
        "to": Address(city="Oslo"),
        "p": {"x": 1},
        "s": Size(2.0),
    }


async def test_defaults_are_left_to_the_function() -> None:
    sentinel = object()

    @tool
    def f(x: int, y: Any = sentinel) -> bool:
        return y is sentinel

    assert await f.run({"x": 1}) == ToolOutput("true")
    assert await f.run({"x": 1, "y": 2}) == ToolOutput("false")


async def test_positional_only_parameters() -> None:
    @tool
    def f(a: int, b: int = 2, /, *, c: int = 3) -> list[int]:
        return [a, b, c]

    assert await f.run({"a": 1, "c": 5}) == ToolOutput("[1,2,5]")


async def test_sync_tool_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @tool
    def where() -> str:
        seen.append(threading.get_ident())
        return "done"

    assert await where.run({}) == ToolOutput("done")
    assert seen
    assert seen[0] != loop_thread


async def test_sync_tools_do_not_block_the_loop() -> None:
    gate = threading.Event()

    @tool
    def wait() -> str:
        return "released" if gate.wait(5) else "timed out"

    task = asyncio.create_task(wait.run({}))
    await asyncio.sleep(0.01)
    gate.set()  # only reachable if the loop was not blocked by the tool
    assert await task == ToolOutput("released")


async def test_async_tool_runs_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    async def where() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    assert await where.run({}) == ToolOutput(str(loop_thread))


@pytest.mark.parametrize("is_async", [False, True])
async def test_exception_becomes_error_output(is_async: bool) -> None:
    def boom(x: int) -> int:
        raise ValueError(f"bad x={x}")

    async def aboom(x: int) -> int:
        raise ValueError(f"bad x={x}")

    t = tool(aboom if is_async else boom)
    assert await t.run({"x": 3}) == ToolOutput("ValueError: bad x=3", is_error=True)


async def test_cancellation_propagates() -> None:
    @tool
    async def slow() -> str:
        await asyncio.sleep(10)
        return "late"

    task = asyncio.create_task(slow.run({}))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_unserialisable_return_is_an_error_naming_the_type() -> None:
    class Handle:
        pass

    @tool
    def leak() -> Handle:
        return Handle()

    out = await leak.run({})
    assert out.is_error
    assert "tool 'leak' returned an unusable result" in out.content
    assert "type Handle" in out.content


async def test_sync_function_returning_awaitable_is_awaited() -> None:
    async def inner() -> str:
        return "inner"

    @tool
    def outer() -> Any:
        return inner()

    assert await outer.run({}) == ToolOutput("inner")


# --------------------------------------------------------------------------- result_to_text


@dataclasses.dataclass
class Reading:
    celsius: float
    when: datetime.date


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ([1, "two"], '[1,"two"]'),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (None, "null"),
        ({"city": "Zürich"}, '{"city":"Zürich"}'),
        (Address(city="Oslo"), '{"city":"Oslo","title":null}'),
        (Reading(21.5, datetime.date(2024, 5, 1)), '{"celsius":21.5,"when":"2024-05-01"}'),
        ([Address(city="A"), {"k": Color.RED}], '[{"city":"A","title":null},{"k":"red"}]'),
        ((1, 2), "[1,2]"),
    ],
)
def test_result_to_text(value: Any, text: str) -> None:
    assert result_to_text(value) == text


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(object(), "object"), ({"f": print}, "dict"), (threading.Lock(), "lock")],
)
def test_result_to_text_rejects_unserialisable(value: Any, type_name: str) -> None:
    with pytest.raises(ToolResultError, match=f"of type {type_name} cannot be serialised"):
        result_to_text(value)


def test_result_to_text_rejects_cycles() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ToolResultError, match="of type list"):
        result_to_text(cyclic)


# --------------------------------------------------------------------------- registry


def _weather(city: str) -> str:
    return f"sunny in {city}"


MANUAL = {
    "type": "function",
    "function": {"name": "search", "parameters": {"type": "object", "properties": {}}},
}


async def test_registry_runs_registered_tools_only() -> None:
    weather = tool(_weather)
    registry = ToolRegistry([weather, MANUAL])
    assert registry.names == ("_weather", "search")
    assert registry.get("_weather") is weather
    assert registry.handles("_weather")
    assert not registry.handles("search")
    assert registry.is_manual("search")
    assert not registry.is_manual("nope")
    assert "search" in registry
    assert "nope" not in registry
    assert len(registry) == 2
    assert list(registry) == ["_weather", "search"]
    assert await registry.run("_weather", {"city": "Rome"}) == ToolOutput("sunny in Rome")


async def test_registry_unknown_tool() -> None:
    registry = ToolRegistry([tool(_weather), MANUAL])
    assert registry.get("print") is None
    assert await registry.run("print", {}) == ToolOutput(
        "unknown tool 'print'; available: _weather, search", is_error=True
    )
    assert (await ToolRegistry().run("x", {})).content == "unknown tool 'x'; no tools are available"


async def test_registry_never_looks_names_up_dynamically() -> None:
    registry = ToolRegistry([tool(_weather)])
    for name in ("__import__", "eval", "_weather.__globals__", "ToolRegistry", "run"):
        out = await registry.run(name, {})
        assert out.is_error
        assert out.content.startswith("unknown tool")


async def test_registry_manual_tool_is_an_error_if_run() -> None:
    out = await ToolRegistry([MANUAL]).run("search", {})
    assert out.is_error
    assert "manual mode" in out.content


def test_registry_definitions_match_options() -> None:
    weather = tool(_weather)
    opts = AgentOptions(model="m", base_url="http://h:1/v1", tools=[weather, MANUAL])
    assert ToolRegistry(opts.tools).definitions() == opts.tool_definitions()


def test_registry_rejects_duplicates() -> None:
    with pytest.raises(ToolDefinitionError, match="two tools are named '_weather'"):
        ToolRegistry([tool(_weather), tool(_weather)])
    with pytest.raises(ToolDefinitionError, match="two tools are named 'search'"):
        ToolRegistry([MANUAL, tool(name="search")(_weather)])


@pytest.mark.parametrize("bad", [42, "get_weather", None])
def test_registry_rejects_non_callables(bad: Any) -> None:
    with pytest.raises(ToolDefinitionError):
        ToolRegistry([bad])


def test_registry_wraps_plain_callables() -> None:
    registry = ToolRegistry([_weather])
    assert registry.handles("_weather")


def test_registry_rejects_tool_like_without_run() -> None:
    class DefinitionOnly:
        name = "x"
        definition: ClassVar[dict[str, Any]] = {
            "type": "function",
            "function": {"name": "x", "parameters": {}},
        }

    with pytest.raises(ToolDefinitionError, match=r"no run\(arguments\) method"):
        ToolRegistry([DefinitionOnly()])


async def test_registry_custom_runnable_tool() -> None:
    class Echo:
        name = "echo"
        definition: ClassVar[dict[str, Any]] = {
            "type": "function",
            "function": {"name": "echo", "parameters": {}},
        }

        async def run(self, arguments: dict[str, Any]) -> Any:
            if arguments.get("fail"):
                raise RuntimeError("asked to fail")
            return {"echo": arguments}

    registry = ToolRegistry([Echo()])
    assert await registry.run("echo", {"a": 1}) == ToolOutput('{"echo":{"a":1}}')
    assert await registry.run("echo", {"fail": 1}) == ToolOutput(
        "RuntimeError: asked to fail", is_error=True
    )
