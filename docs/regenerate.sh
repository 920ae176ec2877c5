#!/usr/bin/env bash
# Rewrites the generated docs from the store:
#   bash docs/regenerate.sh               both files below
#   bash docs/regenerate.sh reproduction  docs/REPRODUCTION.md below its hand-written preamble (everything
#                                         before "## Standard scale"): train first with `python -m core
#                                         reproduce NAME --scale standard` and `--scale quick` for every preset
#   bash docs/regenerate.sh diagnosis     docs/DIAGNOSIS.md below its marker line: the diagnosis's labelled
#                                         battery (python -m core battery trains what the store lacks)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
what=${1:-all}

reproduction() {
    local doc=docs/REPRODUCTION.md head standard quick
    head=$(awk '/^## Standard scale/{exit} {print}' "$doc")
    standard=$("$PY" -m core reproduce --all --scale standard --stored-only --format markdown)
    quick=$("$PY" -m core reproduce --all --scale quick --stored-only --format markdown)
    printf '%s\n\n## Standard scale\n\n%s\n\n## Quick scale\n\n%s\n' "$head" "$standard" "$quick" > "$doc.tmp"
    mv "$doc.tmp" "$doc"
    echo "$doc rewritten from the store"
}

diagnosis() {
    local doc=docs/DIAGNOSIS.md body
    local marker='<!-- generated below: python -m core battery --format markdown -->'
    body=$("$PY" -m core battery --format markdown)
    awk -v m="$marker" '{print} $0 == m {exit}' "$doc" > "$doc.tmp"
    printf '\n%s\n' "$body" >> "$doc.tmp"
    mv "$doc.tmp" "$doc"
    echo "$doc rewritten from the battery"
}

case "$what" in
    all) reproduction; diagnosis ;;
    reproduction|diagnosis) "$what" ;;
    *) echo "docs/regenerate.sh: got '$what'; expected reproduction, diagnosis or nothing (both)" >&2; exit 2 ;;
esac
