"""The text names modules that exist: README, docs, docstrings and comments never point at a
module that moved (a config module and a stats module were found named at their old places after a move)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _is_module(parts: list[str]) -> bool:
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_named_module_exists():
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "core").rglob("*.py"),
             *(ROOT / "pages").glob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    stale = set()
    for f in files:
        text = f.read_text()
        for path in re.findall(r"(?<![\w/])((?:core|pages)/[\w/]+\.py)\b", text):
            if not (ROOT / path).exists():
                stale.add(f"{f.relative_to(ROOT)}: {path}")
        for name in re.findall(r"(?<![\w.])(core(?:\.[A-Za-z_]\w*)+)", text):
            parts = name.split(".")
            known = max((k for k in range(1, len(parts) + 1) if _is_module(parts[:k])), default=0)
            if known < len(parts) - 2:  # a module, then at most a class and its attribute
                stale.add(f"{f.relative_to(ROOT)}: {name}")
    assert sorted(stale) == []
