"""The command line: `python -m core <command>`. `main` (in .main) parses and dispatches; .common
holds the config flags every command shares, .theory the predictions (theory, probe), .export the
exports and imports, .report the Markdown reproduction report."""
from .main import build_parser, config_from_args, main

__all__ = ["build_parser", "config_from_args", "main"]
