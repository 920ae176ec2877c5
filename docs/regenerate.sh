#!/usr/bin/env bash
# Rewrites docs/REPRODUCTION.md below its hand-written preamble (everything before "## Standard
# scale") with the reports the store holds: train first with `python -m core reproduce NAME --scale
# standard` and `--scale quick` for every preset (or drop --stored-only below to train what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
doc=docs/REPRODUCTION.md
head=$(awk '/^## Standard scale/{exit} {print}' "$doc")
standard=$("$PY" -m core reproduce --all --scale standard --stored-only --format markdown)
quick=$("$PY" -m core reproduce --all --scale quick --stored-only --format markdown)
printf '%s\n\n## Standard scale\n\n%s\n\n## Quick scale\n\n%s\n' "$head" "$standard" "$quick" > "$doc.tmp"
mv "$doc.tmp" "$doc"
echo "$doc rewritten from the store"
