"""The MCP front end: tools for AI assistants over stdio (`aspreset mcp`) and streamable HTTP
(`bot/mcp/http.py`, mounted by `aspreset serve`), thin over the core, with the same policy and
approvals as for a person. See docs/mcp.md."""
