"""The `siyu` command line (Typer + rich). Thin: parse, call a capability, print."""
