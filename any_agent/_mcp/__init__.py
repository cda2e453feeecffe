"""MCP servers as tools: config parsing, in-process servers, sessions and their lifecycle,
the tool adapter and result conversion. Only ``session.py`` and ``stdio.py`` import the
``mcp`` package (through ``compat.py``); an in-process server needs no extra."""
