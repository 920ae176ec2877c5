"""Runs: what the store holds; open, compare, download or delete runs."""

import json
from functools import partial

import pandas as pd
import streamlit as st

from core.base.config import public_demo
from core.base.cost import duration
from core.runs.files import MAX_NAME, MAX_NOTE, StoreError
from core.runs.names import set_name
from core.runs.bundle import MAX_BUNDLE_BYTES, AlreadyStored, BundleError, bundle_bytes, import_bundle
from core.views.links import config_to_query
from core.views.markup import inert
from pages.services import get_store, list_runs, require_app, stored_run


def open_bundle(store, upload, replace: bool) -> tuple[str, bool] | None:
    """Store the uploaded bundle's run: (its run id, whether it replaced a stored run), or None
    after an error saying why (a run stored here already needs the 'replace' box ticked)."""
    try:
        return import_bundle(store, upload), False
    except AlreadyStored as exc:
        if not replace:
            st.error(f"Not opened: {inert(exc)}. Tick 'replace the stored run' to replace it.")
            return None
    except BundleError as exc:
        st.error(f"Not opened: {inert(exc)}")
        return None
    upload.seek(0)
    try:
        return import_bundle(store, upload, replace=True), True
    except BundleError as exc:
        st.error(f"Not opened: {inert(exc)}")
        return None


# The bundle uploader's limit in MiB, as its "Limit ... per file" says it: whole units (Streamlit
# rounds 512 MiB to "1GB"), within the bundle's own limit and .streamlit/config.toml's maxUploadSize.
BUNDLE_UPLOAD_MB = min(500, MAX_BUNDLE_BYTES // 2**20)

require_app()

st.title("Stored runs")
store = get_store()
runs = list_runs()
st.caption(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, {store.total_bytes() / 2**20:.1f} MiB of {store.max_bytes / 2**30:.1f} GiB "
           "(the least recently used runs are removed beyond that).")
with st.expander("Open a run from a bundle (.zip)"):
    if public_demo():
        st.caption("Uploads are off in the public demo.")
    else:
        upload = st.file_uploader("run bundle", type=["zip"], key=f"runs-upload-{st.session_state.get('runs-uploads', 0)}",
                                  max_upload_size=BUNDLE_UPLOAD_MB,
                                  help="A .zip written by 'Bundle (.zip)' below, on this or another installation.")
        replace = st.checkbox("replace the stored run", key="runs-upload-replace",
                              help="A bundle of a run that is stored here already is refused unless this is ticked.")
        if upload is not None and (opened := open_bundle(store, upload, replace)):
            st.session_state["runs-uploads"] = st.session_state.get("runs-uploads", 0) + 1
            list_runs.clear()
            st.session_state["runs-imported"] = opened
            st.rerun()
if st.session_state.get("runs-imported"):
    run_id, replaced = st.session_state.pop("runs-imported")
    st.success(f"Stored run `{run_id}` {'replaced by' if replaced else 'opened from'} its bundle.")
if runs.empty:
    st.info("Nothing stored yet: train a network in Explore.")
    st.stop()

runs = runs.sort_values("created", ascending=False)
shown = runs[["created", "label", "name", "test_acc", "grad_ratio", "status", "dataset", "epochs", "seed", "seconds",
              "device", "run_id"]].copy()
shown["created"] = pd.to_datetime(shown["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
# A ratio that is not defined is a dash (the caption says when), not "None".
shown["grad_ratio"] = [f"{v:.1e}" if pd.notna(v) else "—" for v in pd.to_numeric(shown["grad_ratio"], errors="coerce")]
# Training time in the words of every other wait in the app (40 s, 12 min, 1.5 h), not 46800.0.
shown["seconds"] = [duration(v) if pd.notna(v) else "—" for v in pd.to_numeric(shown["seconds"], errors="coerce")]
network_width = min(420, 16 + 7 * int(shown["label"].str.len().max()))  # the whole label, beside the date
table_key = f"runs-table-{st.session_state.get('runs-deletes', 0)}"  # a new table after a delete: nothing selected
event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="multi-row", key=table_key,
                     column_config={"created": st.column_config.TextColumn("date", width="small"),
                                    "status": st.column_config.TextColumn(width="small"),
                                    "test_acc": st.column_config.NumberColumn("test acc", format="percent", width="small"),
                                    "grad_ratio": st.column_config.TextColumn("grad ratio", width="small",
                                                                              alignment="right"),
                                    "label": st.column_config.TextColumn("network", width=network_width),
                                    "run_id": st.column_config.TextColumn("run id"),
                                    "seconds": st.column_config.TextColumn("training", width="small",
                                                                           alignment="right")})
st.caption("Select rows to open, compare, download or delete. grad ratio = mean |gradient| of the first "
           "layer over the last hidden layer at the end of training (1 is even, 1e-5 vanishing); a dash where "
           "it is not defined: the last hidden layer's mean |gradient| is exactly 0 (as after an all-zero "
           "initialization), a gradient is not finite, or there are fewer than two hidden layers; date = "
           "when training finished.")
selected = [shown.iloc[i]["run_id"] for i in event.selection.rows] if event and event.selection else []
if not selected:
    st.stop()

c = st.columns(3)
if len(selected) == 1:
    result = stored_run(selected[0])
    if result is not None:
        c[0].page_link("pages/explore.py", label="Open in Explore", icon=":material/biotech:",
                       query_params=config_to_query(result.config))
if len(selected) > 1:
    c[1].page_link("pages/compare.py", label=f"Compare {len(selected)} runs", icon=":material/compare_arrows:",
                   query_params={"runs": ",".join(selected)})
plural = "s" if len(selected) != 1 else ""
if public_demo():  # a shared demo: one visitor must not delete everyone's runs
    c[2].caption("Deleting is off in the public demo.")
elif c[2].button(f"Delete {len(selected)} run{plural}"):
    st.session_state["runs-confirm"] = list(selected)
if st.session_state.get("runs-confirm") == list(selected) and not public_demo():
    st.warning(f"Delete {len(selected)} stored run{plural}? Their results are lost (they can be trained again).")
    if st.button("Yes, delete"):
        for run_id in selected:
            store.delete(run_id)
        st.session_state.pop("runs-confirm")
        st.session_state["runs-deletes"] = st.session_state.get("runs-deletes", 0) + 1
        list_runs.clear()
        st.rerun()

for run_id in selected:
    result = stored_run(run_id)
    if result is None:
        continue
    with st.container(border=True):
        name, note = result.meta.get("name", ""), result.meta.get("note", "")
        st.markdown((f"**{inert(name)}** · " if name else "") + f"{result.config.describe()} · `{run_id}` · {result.status}"
                    + (f"  \n{inert(note)}" if note else ""))
        if not public_demo():  # a shared demo: one visitor must not rename everyone's runs
            with st.form(f"runs-name-{run_id}", border=False):
                e = st.columns([2, 4, 1], vertical_alignment="bottom")
                new_name = e[0].text_input("name", name, max_chars=MAX_NAME, key=f"runs-name-{run_id}-name",
                                           help="Your own name for the run, shown in lists and in Compare.")
                new_note = e[1].text_input("note", note, max_chars=MAX_NOTE, key=f"runs-name-{run_id}-note",
                                           help="A line of your own about the run; kept in its bundle.")
                if e[2].form_submit_button("Save"):
                    try:
                        set_name(store, run_id, new_name, new_note)
                    except StoreError as exc:
                        st.error(f"Not saved: {inert(exc)}")
                    else:
                        list_runs.clear()
                        st.rerun()
        d = st.columns(4)
        d[0].download_button("Summary (JSON)", json.dumps(result.summary(), indent=1, allow_nan=False),
                             f"{run_id}.json", "application/json", key=f"dl-json-{run_id}")
        d[1].download_button("Epochs (CSV)", result.epochs.to_csv(index=False), f"{run_id}-epochs.csv",
                             "text/csv", key=f"dl-epochs-{run_id}")
        layer_stats = result.layer_stats.merge(result.layers[["layer", "name"]], on="layer")
        d[2].download_button("Layer statistics (CSV)", layer_stats.to_csv(index=False),
                             f"{run_id}-layer-stats.csv", "text/csv", key=f"dl-stats-{run_id}")
        d[3].download_button("Bundle (.zip)", partial(bundle_bytes, store, run_id), f"{run_id}.zip",
                             "application/zip", key=f"dl-bundle-{run_id}",
                             help="The whole run (config, tables, histograms, weights, checksums), to open "
                                  "on another installation (Runs, 'Open a run from a bundle').")
