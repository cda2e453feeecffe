"""MCP servers' lifecycle: one owner task per server enters and leaves its transport and
ClientSession (the ``mcp`` package's anyio task groups must be left in the task that
entered them), so ``Client.close()`` is safe from any task, on any path. Calls are made
from the tool runner's tasks and bounded by ``mcp_tool_timeout``; a server's death or
garbage ends a pending call at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from .._agent.aio import describe_exception
from ..errors import MCPServerError, clip
from ..tools import ToolOutput
from .compat import (
    CONNECTION_CLOSED,
    dump,
    error_code,
    is_invalid_result,
    list_tools_page,
    next_cursor,
    require_mcp,
)
from .config import HttpSpec, SdkSpec, ServerSpec, StdioSpec, parse_servers, tool_name
from .results import to_output
from .sdk import SdkMcpTool

__all__ = ["McpHub", "McpTool"]

#: tools/list pages read from one server at most (a server that pages for ever)
MAX_PAGES = 64
#: how long stopping one server may take before its owner task is cancelled
_STOP_SECONDS = 10.0


def _leaf(exc: BaseException) -> BaseException:
    inner = getattr(exc, "exceptions", None)  # an (anyio) exception group: its first leaf
    while isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


class McpTool:
    """One MCP tool as a tool of the agent, offered as ``mcp__<server>__<tool>``."""

    def __init__(self, name: str, definition: dict[str, Any], call: Any, tool: str = "") -> None:
        self.name = name
        self.definition = definition
        self._call = call
        self.tool = tool or name  # the server's own name for it

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutput:
        """The call's result; raises MCPServerError when the server failed."""
        result: ToolOutput = await self._call(arguments)
        return result


class Connection:
    """One stdio/http/sse server: its owner task, its session, its tools."""

    def __init__(self, spec: StdioSpec | HttpSpec, options: Any) -> None:
        self.spec = spec
        self.name = spec.name
        self._options = options
        self.failure: str | None = None
        self.pid: int | None = None
        self.tools: list[McpTool] = []
        self._session: Any = None
        self._listed: list[dict[str, Any]] = []
        self._ready = asyncio.Event()
        self._dead = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        self._dead.set()

    def _started(self, pid: int) -> None:
        self.pid = pid

    async def _own(self) -> None:
        options = self._options
        try:
            mcp = require_mcp()
            from .compat import http_transport
            from .stdio import stdio_transport

            async with contextlib.AsyncExitStack() as stack:
                if isinstance(self.spec, StdioSpec):
                    transport = stdio_transport(
                        self.spec, options.max_mcp_message_bytes, self._fail, self._started
                    )
                else:
                    transport = http_transport(
                        self.spec.kind,
                        self.spec.url,
                        dict(self.spec.headers),
                        options.max_mcp_message_bytes,
                    )
                read, write = await stack.enter_async_context(transport)
                session = await stack.enter_async_context(mcp.ClientSession(read, write))
                await session.initialize()
                cursor: str | None = None
                for _ in range(MAX_PAGES):
                    page = await list_tools_page(session, cursor)
                    self._listed.extend(dump(t) for t in page.tools)
                    cursor = next_cursor(page)
                    if cursor is None:
                        break
                self._session = session
                self._ready.set()
                stop = asyncio.ensure_future(self._stop.wait())
                dead = asyncio.ensure_future(self._dead.wait())
                try:
                    await asyncio.wait({stop, dead}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                    dead.cancel()
        except Exception as exc:
            self._fail(describe_exception(_leaf(exc)))
        finally:
            if not self._stop.is_set():
                self._fail("the connection ended")
            self._dead.set()
            self._ready.set()

    async def start(self) -> None:
        timeout = self._options.mcp_startup_timeout
        require_mcp()  # ConfigurationError saying how to install the extra
        self._task = asyncio.create_task(self._own(), name=f"any-agent mcp server {self.name}")
        try:
            try:
                await asyncio.wait_for(asyncio.shield(self._ready.wait()), timeout)
            except asyncio.TimeoutError:
                self._fail(
                    f"did not finish starting (initialize and tools/list) within "
                    f"mcp_startup_timeout={timeout:g}s"
                )
            if self._dead.is_set() or self._session is None:
                raise MCPServerError(
                    self.name, f"failed to start: {self.failure or 'the connection ended'}"
                )
            self.tools = [self._adapter(entry) for entry in self._listed]
        except BaseException:
            await self.stop()  # cancelled or failed while starting: nothing is left running
            raise

    def _adapter(self, entry: dict[str, Any]) -> McpTool:
        tool = entry.get("name")
        full = tool_name(self.name, tool) if isinstance(tool, str) else None
        if full is None:
            raise MCPServerError(
                self.name,
                f"offers a tool named {tool!r:.100}, but mcp__{self.name}__<tool> must be "
                "1-64 letters, digits, '_' or '-'; rename the server (a shorter key in "
                "mcp_servers) or the tool",
                tool=tool if isinstance(tool, str) else None,
            )
        schema = entry.get("inputSchema")
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            schema = {"type": "object", "properties": {}}
        description = entry.get("description")
        definition = {
            "type": "function",
            "function": {
                "name": full,
                "description": description if isinstance(description, str) else "",
                "parameters": schema,
            },
        }

        mcp_name = str(tool)

        async def call(arguments: Mapping[str, Any]) -> ToolOutput:
            return await self.call(mcp_name, arguments)

        return McpTool(full, definition, call, mcp_name)

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> ToolOutput:
        if self._dead.is_set() or self._session is None:
            raise MCPServerError(
                self.name, f"is not running ({self.failure or 'stopped'})", tool=tool
            )
        timeout = self._options.mcp_tool_timeout
        pending = asyncio.ensure_future(self._session.call_tool(tool, dict(arguments)))
        pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        dead = asyncio.ensure_future(self._dead.wait())
        try:
            await asyncio.wait({pending, dead}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            dead.cancel()
            if not pending.done():
                pending.cancel()
        if pending.done() and not pending.cancelled():
            exc = pending.exception()
            if exc is None:
                data = dump(pending.result())
                return to_output(
                    data.get("content"), data.get("isError"), data.get("structuredContent")
                )
            code = error_code(exc)
            if code is not None and code != CONNECTION_CLOSED and not self._dead.is_set():
                # the server answered with a JSON-RPC error (unknown tool, bad params...)
                return ToolOutput(f"MCP server {self.name!r} refused the call: {exc}", True)
            if is_invalid_result(exc) and not self._dead.is_set():
                return ToolOutput(
                    f"MCP server {self.name!r} answered with a result that is not valid: "
                    + clip(describe_exception(_leaf(exc)), 600),
                    True,
                )
            self._fail(describe_exception(_leaf(exc)))
        if self._dead.is_set():
            raise MCPServerError(
                self.name, f"failed during a call to {tool!r}: {self.failure}", tool=tool
            )
        raise MCPServerError(
            self.name,
            f"did not answer a call to {tool!r} within mcp_tool_timeout={timeout:g}s",
            tool=tool,
        )

    async def stop(self) -> None:
        """End the owner task (the session, then the process); bounded, and finished even
        when the caller is cancelled meanwhile (the cancellation is raised after)."""
        self._stop.set()
        task = self._task
        if task is None:
            return
        if not self._ready.is_set():
            task.cancel()  # still starting: it waits on the server, not on the stop event
        cancelled = False
        for attempt in (0, 1):
            while not task.done():
                try:
                    await asyncio.wait({task}, timeout=_STOP_SECONDS)
                    break
                except asyncio.CancelledError:
                    cancelled = True
            if task.done():
                break
            if attempt == 0:
                task.cancel()
        if cancelled:
            raise asyncio.CancelledError


class McpHub:
    """The MCP servers of one agent: in-process tools at once, the others from
    :meth:`start` (idempotent) to :meth:`close`."""

    def __init__(self, options: Any) -> None:
        self._options = options
        self._specs: tuple[ServerSpec, ...] = parse_servers(options.mcp_servers)
        self.local_tools: list[McpTool] = []
        for spec in self._specs:
            if isinstance(spec, SdkSpec):
                self.local_tools.extend(_sdk_adapter(spec.name, t) for t in spec.server.tools)
        self._connections: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def needs_start(self) -> bool:
        remote = any(not isinstance(s, SdkSpec) for s in self._specs)
        return remote and (self._loop is not asyncio.get_running_loop())

    @property
    def connections(self) -> tuple[Connection, ...]:
        return tuple(self._connections)

    async def start(self) -> list[McpTool]:
        """Start every stdio/http/sse server; their tools. A failure stops them all and
        raises the first MCPServerError."""
        self._connections = [
            Connection(spec, self._options)
            for spec in self._specs
            if isinstance(spec, (StdioSpec, HttpSpec))
        ]
        self._loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(
                *(c.start() for c in self._connections), return_exceptions=True
            )
        except BaseException:
            # cancelled while starting: forget the start, so the next query starts again
            await self.close()
            raise
        failures = [r for r in results if isinstance(r, BaseException)]
        clash = None if failures else self._clash()
        if failures or clash:
            await self.close()
            raise failures[0] if failures else clash  # type: ignore[misc]
        return [tool for c in self._connections for tool in c.tools]

    def _clash(self) -> MCPServerError | None:
        """A tool name offered twice (one server listing it twice, or two servers whose
        key and tool names join to the same ``mcp__…`` name): the chat server must not get
        two tools of one name, and which one a call runs would be a guess."""
        owners: dict[str, str] = dict.fromkeys(self._options.tool_names(), "AgentOptions.tools")
        for spec in self._specs:
            if isinstance(spec, SdkSpec):
                for sdk_tool in spec.server.tools:
                    owners[tool_name(spec.name, sdk_tool.name) or ""] = f"server {spec.name!r}"
        for connection in self._connections:
            mine: set[str] = set()
            for tool in connection.tools:
                if tool.name in mine:
                    return MCPServerError(
                        connection.name, f"offers two tools named {tool.tool!r}", tool=tool.tool
                    )
                if tool.name in owners:
                    return MCPServerError(
                        connection.name,
                        f"its tool {tool.tool!r} would be offered as {tool.name}, the name of "
                        f"a tool of {owners[tool.name]}; rename a server key or a tool",
                        tool=tool.tool,
                    )
                mine.add(tool.name)
            owners.update(dict.fromkeys(mine, f"server {connection.name!r}"))
        return None

    async def close(self) -> None:
        """Stop every server (bounded; no process survives)."""
        connections, self._connections = self._connections, []
        if self._loop is not asyncio.get_running_loop():
            return  # started under an event loop that is gone: it ended their tasks
        self._loop = None
        results = await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)
        if any(isinstance(r, asyncio.CancelledError) for r in results):
            raise asyncio.CancelledError


def _sdk_adapter(server: str, tool: SdkMcpTool) -> McpTool:
    full = tool_name(server, tool.name)
    assert full is not None  # AgentOptions checked the names
    return McpTool(full, tool.definition_as(full), tool.run)
