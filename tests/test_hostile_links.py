"""Links from anyone, failures of the machine: nothing from a URL is rendered as markup, and a
refused request or a broken store is a message in the page, never an exception (AppTest)."""
import re

import pytest
import torch

from apptest_helpers import TINY, fresh_app_caches, open_page, texts  # noqa: F401 (autouse fixture)
from core.base.config import RunConfig
from core.engine.loop import train
from core.runs.store import RunStore
from core.views.links import config_from_query
from core.views.markup import inert

# Markdown links and images, HTML, Streamlit colours, icons and emoji, LaTeX, bare autolinks.
HOSTILE = {
    "activation": "[click](http://evil.example/a)",
    "dataset": "![x](http://evil.example/i.png)",
    "init": "<img src=http://evil.example/h.png>",
    "bn": ":red[alarm] :blue-background[x]",
    "optimizer": ":material/home: :smile:",
    "schedule": "$\\frac{a}{b}$",
    "noise_unit": "www.evil.example",
    "dropout_kind": "\\[x](http://evil.example/b)",
}
# The markup of those values where it is live, i.e. not preceded by a backslash escape.
LIVE_MARKUP = [r"(?<!\\)\]\(", r"(?<!\\)<img", r"(?<!\\):red", r"(?<!\\):material", r"(?<!\\):smile",
               r"(?<!\\)\$", r"www\.evil"]


def assert_inert(shown: str) -> None:
    for pattern in LIVE_MARKUP:
        assert not re.search(pattern, shown), (pattern, shown)


def element_values(at, kind: str) -> list[str]:
    return [e.value for e in at.get(kind)]


def test_explore_warnings_show_link_values_as_their_characters():
    at = open_page("pages/explore.py", HOSTILE)
    assert not at.exception
    _, warnings = config_from_query(HOSTILE)
    expected = "Some link parameters were ignored:\n" + "\n".join(f"- {inert(w)}" for w in warnings)
    assert expected in element_values(at, "warning")  # the element's value is the escaped text
    assert_inert(texts(at))
    for key in HOSTILE:
        assert f"- {inert(key + ':')}" in expected


def test_compare_sweep_values_and_run_ids_from_a_link_are_inert(isolated_cache):
    sweep = {"mode": "sweep", "vary": "activation", "values": "[click](http://evil.example/c),:red[x]",
             **TINY}
    at = open_page("pages/compare.py", sweep)
    assert not at.exception
    warnings = element_values(at, "warning")
    assert any("activation" in w and inert("[click](http://evil.example/c)") in w for w in warnings)
    assert_inert(texts(at))
    RunStore(isolated_cache).save(train(RunConfig(dataset="digits", widths=(8,), epochs=1)))
    at = open_page("pages/compare.py", {"runs": "![x](http://evil.example/r.png),$x$"})
    assert not at.exception
    assert any(w.startswith("runs: not stored here") and inert("![x](http:") in w
               for w in element_values(at, "warning"))
    assert_inert(texts(at))


def test_reproduce_preset_and_scale_from_a_link_are_inert():
    at = open_page("pages/reproduce.py", {"preset": "[p](http://evil.example/p)", "scale": ":material/home:"})
    assert not at.exception
    warnings = element_values(at, "warning")
    assert any(w.startswith(inert("preset:")) and inert("[p](http:") in w for w in warnings)
    assert any(w.startswith(inert("scale:")) for w in warnings)
    assert_inert(texts(at))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: device=cuda trains")
def test_training_on_a_device_that_is_not_here_is_a_message():
    at = open_page("pages/explore.py", {**TINY, "device": "cuda"})
    assert not at.exception
    at.button(key="explore-train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = element_values(at, "error")
    assert any(e.startswith("Not started: ") and "cuda" in e for e in errors), errors


def test_a_store_that_cannot_open_is_a_message_in_every_page(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VG_CACHE_DIR", str(blocker / "cache"))
    for page in ("pages/home.py", "pages/explore.py", "pages/runs.py"):
        at = open_page(page, TINY)
        assert not at.exception, [e.value for e in at.exception]
        assert any("run store cannot open" in e and inert("VG_CACHE_DIR") in e for e in element_values(at, "error"))
    monkeypatch.setenv("VG_CACHE_DIR", str(tmp_path / "fine"))  # the fixture's teardown opens the store


@pytest.mark.parametrize("demo", ["0", "1"])
def test_the_public_demo_does_not_delete_stored_runs(isolated_cache, monkeypatch, demo):
    monkeypatch.setenv("VG_PUBLIC_DEMO", demo)
    RunStore(isolated_cache).save(train(RunConfig(dataset="digits", widths=(8,), epochs=1)))
    at = open_page("pages/runs.py")
    at.session_state["runs-table-0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()  # one row selected, as a click on the table does
    assert not at.exception
    offered = [b.label for b in at.button if b.label.startswith("Delete")]
    if demo == "1":
        assert not offered and "Deleting is off in the public demo." in texts(at)
    else:
        assert offered == ["Delete 1 run"]
