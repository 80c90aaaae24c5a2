"""The application core: use cases, dispatch, views, ports and the types they speak, one error tree.

Pure: it imports `commands/`, `policies/`, the standard library, pydantic and structlog, never an
I/O library (tests/unit/app/test_core_imports.py reads the imports). Adapters (bot/winrm, bot/store,
bot/sim, bot/drain) and front ends (bot/cli, bot/slack, bot/mcp, bot/http, bot/demo) import the
core, never the reverse.
"""
