"""A small MCP server written with the ``mcp`` package, run over stdio by ../mcp_stdio.py.

Run it alone with ``python weather_server.py`` (it speaks MCP on stdin/stdout)."""

from __future__ import annotations

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server

server = Server("weather")


@server.tool(description="Current weather for a city.")
def get_weather(city: str) -> dict[str, object]:
    return {"city": city, "temperature": 21, "unit": "celsius", "sky": "clear"}


@server.tool(description="Tomorrow's forecast for a city.")
def forecast(city: str) -> str:
    return f"{city}: sunny tomorrow, 23 °C"


if __name__ == "__main__":
    server.run("stdio")
