"""The layout shows the design: layers whose imports point down, no cycles, small modules."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each layer is a folder of core/ and may import only the layers listed for it (and itself);
# core/base/ (config, datasets, cost, instruments) is the shared base every layer may use.
LAYERS = ("base", "engine", "runs", "views", "lab", "cli")
MAY_IMPORT = {
    "base": {"base"},
    "engine": {"base", "engine"},
    "runs": {"base", "engine", "runs"},
    "views": {"base", "engine", "views"},
    "lab": {"base", "engine", "runs", "views", "lab"},
    "cli": {"base", "engine", "runs", "views", "lab", "cli"},
}
MAX_LINES = 420  # "about 400"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"  # the package itself
    if parts[1] in LAYERS:
        return parts[1]
    return "cli"  # __main__ sits on top


def _imports(path: Path) -> set[str]:
    """Absolute names of the core modules `path` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from . import x` imports x
    return found


def _core_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in (ROOT / "core").rglob("*.py")}


def _edges() -> dict[str, set[str]]:
    modules = _core_modules()
    return {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}


def test_core_never_imports_streamlit():
    for module, path in _core_modules().items():
        assert not any(i.split(".")[0] == "streamlit" for i in _imports(path)), module


def test_imports_point_down_the_layers():
    wrong = [(m, i) for m, targets in _edges().items() for i in targets
             if _layer(i) not in MAY_IMPORT[_layer(m)] and i != "core"]
    assert wrong == []


def _assert_acyclic(edges: dict[str, set[str]]) -> None:
    """AssertionError naming the first import cycle found (a -> b -> ... -> a)."""
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                raise AssertionError(" -> ".join(path + [m, n]))
            if n not in state:
                visit(n, path + [m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


def test_no_import_cycle_inside_core():
    _assert_acyclic(_edges())


def test_core_root_holds_only_the_package_files():
    """Every module lives in the folder of its layer; core/ itself only names the package."""
    root = sorted(p.name for p in (ROOT / "core").glob("*.py"))
    folders = sorted(p.name for p in (ROOT / "core").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert root == ["__init__.py", "__main__.py"]
    assert folders == sorted(LAYERS)


def test_no_module_of_core_or_pages_is_much_above_400_lines():
    files = list((ROOT / "core").rglob("*.py")) + list((ROOT / "pages").glob("*.py"))
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _ui_modules() -> dict[str, Path]:
    mods = {_module_name(p): p for p in (ROOT / "pages").glob("*.py")}
    mods["app"] = ROOT / "app.py"
    return mods


def _ui_edges() -> dict[str, set[str]]:
    modules = _ui_modules()
    edges = {}
    for m, p in modules.items():
        found = _imports(p) if m != "app" else _imports_of_script(p)
        edges[m] = {i for i in found if i in modules and i != m}
    return edges


def _imports_of_script(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_the_ui_has_no_import_cycle_and_core_never_imports_it():
    _assert_acyclic(_ui_edges())
    for module, path in _core_modules().items():
        assert not any(i.split(".")[0] in ("pages", "app") for i in _imports(path)), module


def test_no_module_imports_another_ones_private_names():
    """A leading underscore means "this module's own": the UI and core import only public names."""
    wrong = []
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in ("core", "pages")):
                wrong += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert wrong == []
