"""A run's own name and note: strict in the metadata, kept by bundles, set from the CLI, and
the names (not hashes) that Compare and the dataset labels show."""
import io
import json
import zipfile

import pytest

from core.base.config import RunConfig
from core.cli import main
from core.engine.loop import train
from core.runs.bundle import BundleError, export_bundle, import_bundle
from core.runs.files import StoreError
from core.runs.names import set_name
from core.runs.store import RunStore


@pytest.fixture
def stored(isolated_cache, tiny):
    store = RunStore(isolated_cache)
    store.save(train(tiny))
    return store, tiny.run_id


def test_a_run_without_a_name_loads_and_gets_one_that_lists_loads_and_clears(stored):
    store, rid = stored
    assert "name" not in store.load(rid).meta and store.list_runs().loc[0, "name"] == ""  # an old run
    set_name(store, rid, name="  he vs glorot ", note="for Monday's class")
    run = store.load(rid, weights=True)  # checksums of the rewritten folder hold
    assert run.meta["name"] == "he vs glorot" and run.meta["note"] == "for Monday's class"
    assert store.list_runs().loc[0, ["name", "note"]].tolist() == ["he vs glorot", "for Monday's class"]
    set_name(store, rid, note="")  # clears the note, keeps the name
    assert store.load(rid).meta["name"] == "he vs glorot" and "note" not in store.load(rid).meta
    store.save(store.load(rid, weights=True))  # saved again (e.g. imported): the name stays
    assert store.load(rid).meta["name"] == "he vs glorot"


@pytest.mark.parametrize("field,value,says", [
    ("name", "x" * 81, "name: 81 characters; at most 80"),
    ("note", "x" * 501, "note: 501 characters; at most 500"),
    ("name", "two\nlines", "name: holds a line break"),
    ("note", 42, "note: got int; expected text"),
])
def test_a_bad_name_or_note_is_one_line_naming_the_field(stored, field, value, says):
    store, rid = stored
    with pytest.raises(StoreError) as exc:
        set_name(store, rid, **{field: value})
    assert str(exc.value).startswith(says) and "\n" not in str(exc.value)
    assert "name" not in store.load(rid).meta


def _bundle_with_meta(store, rid, **changes) -> io.BytesIO:
    """The run's bundle with meta.json changed and the manifest's checksum made to match."""
    import hashlib

    buf = io.BytesIO()
    export_bundle(store, rid, buf)
    with zipfile.ZipFile(buf) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = dict(json.loads(members["meta.json"]), **changes)
    members["meta.json"] = json.dumps(meta).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["meta.json"] = {"size": len(members["meta.json"]),
                                      "sha256": hashlib.sha256(members["meta.json"]).hexdigest()}
    members["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    out.seek(0)
    return out


def test_a_bundle_carries_the_name_and_one_with_a_hostile_name_is_refused(stored, tmp_path):
    store, rid = stored
    set_name(store, rid, name="relu he", note="3 seeds")
    other = RunStore(tmp_path / "other")
    buf = io.BytesIO()
    export_bundle(store, rid, buf)
    buf.seek(0)
    assert import_bundle(other, buf) == rid and other.load(rid).meta["name"] == "relu he"
    for hostile in ("<script>alert(1)</script>\n" * 3, "x" * 81, 7, ""):
        with pytest.raises(BundleError) as exc:
            import_bundle(RunStore(tmp_path / f"o{len(str(hostile))}"), _bundle_with_meta(store, rid, name=hostile))
        assert "meta.json: name: got" in str(exc.value) and "\n" not in str(exc.value)


def test_rename_and_show_from_the_command_line(stored, capsys):
    store, rid = stored
    assert main(["rename", rid, "--name", "deep tanh", "--note", "the first try"]) == 0
    assert "deep tanh" in capsys.readouterr().out
    assert main(["show", rid]) == 0
    out = capsys.readouterr().out
    assert "name: deep tanh" in out and "note: the first try" in out
    assert main(["show", rid, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "deep tanh"
    assert main(["list"]) == 0 and "deep tanh" in capsys.readouterr().out
    assert main(["rename", rid, "--name", "x" * 81]) == 2
    assert capsys.readouterr().err.strip() == "error: --name: 81 characters; at most 80"
    assert main(["rename", rid]) == 2 and "--name TEXT" in capsys.readouterr().err
    assert main(["rename", "0" * 16, "--name", "a"]) == 2 and "no stored run" in capsys.readouterr().err


def test_compare_labels_name_a_lone_configuration_and_uploads_by_their_file_name(isolated_cache):
    from core.engine.userdata import ingest
    from core.views.labels import distinct_labels

    one = RunConfig(dataset="digits", widths=(16, 16), activation="tanh")
    assert distinct_labels({one.run_id: one}) == {one.run_id: one.describe()}  # not the run id
    csv = "a,b,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(60))
    name = ingest(csv.encode(), "my <points>.csv")
    from core.base.datasets import dataset_label

    assert dataset_label(name).startswith("my <points>.csv — 60 rows")
    up = RunConfig(dataset=name, widths=(8,), epochs=1)
    labels = distinct_labels({up.run_id: up, one.run_id: one})
    assert "my <points>.csv" in labels[up.run_id] and "upload:" not in labels[up.run_id]


def test_the_runs_page_edits_a_name_and_compare_shows_it(isolated_cache):
    from apptest_helpers import fresh_app_caches, open_page  # noqa: F401 (its fixture empties the app's caches)

    store = RunStore(isolated_cache)
    cfgs = [RunConfig(dataset="digits", widths=(16, 16), epochs=1, activation="tanh", seed=s) for s in (0, 1)]
    for cfg in cfgs:
        store.save(train(cfg))
    at = open_page("pages/runs.py")
    assert "name" in list(at.dataframe[0].value.columns)
    for cfg in cfgs:  # what the page's form does, then what Compare makes of it
        set_name(store, cfg.run_id, name="my <b>tanh</b>")
    at = open_page("pages/compare.py", {"runs": ",".join(c.run_id for c in cfgs)})
    assert not at.exception, [e.value for e in at.exception]
    assert list(at.dataframe[0].value["run"]) == ["my <b>tanh</b>"]  # one row: the two seeds, by its name
