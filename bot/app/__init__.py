"""The application core: use cases, dispatch, views, ports and the types they speak, one error tree.

Pure: it imports `commands/`, `policies/` and the standard library, pydantic and structlog, never an
I/O library (tests/unit/bot/test_core_imports.py reads the imports). Adapters (winrm, store, sim)
and front ends (cli, chat, slack, mcp, http) import the core, never the reverse.
"""
