"""Runs: what the store holds; open, compare, download or delete runs."""

import json

import pandas as pd
import streamlit as st

from core.views.links import config_to_query
from pages.services import get_store, list_runs, require_app, stored_run

require_app()

st.title("Stored runs")
store = get_store()
runs = list_runs()
st.caption(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, {store.total_bytes() / 2**20:.1f} MiB of {store.max_bytes / 2**30:.1f} GiB "
           "(the least recently used runs are removed beyond that).")
if runs.empty:
    st.info("Nothing stored yet: train a network in Explore.")
    st.stop()

runs = runs.sort_values("created", ascending=False)
shown = runs[["run_id", "label", "status", "dataset", "epochs", "seed", "test_acc", "grad_ratio", "seconds",
              "device", "created"]].copy()
shown["created"] = pd.to_datetime(shown["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="multi-row", key="runs-table",
                     column_config={"test_acc": st.column_config.NumberColumn("test acc", format="%.3f"),
                                    "grad_ratio": st.column_config.NumberColumn("grad ratio", format="%.1e"),
                                    "seconds": st.column_config.NumberColumn(format="%.1f")})
st.caption("Select rows to open, compare, download or delete. grad ratio = mean |gradient| of the first "
           "layer over the last hidden layer at the end of training (1 is even, 1e-5 vanishing).")
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
if c[2].button(f"Delete {len(selected)} runs"):
    st.session_state["runs-confirm"] = list(selected)
if st.session_state.get("runs-confirm") == list(selected):
    st.warning(f"Delete {len(selected)} stored runs? Their results are lost (they can be trained again).")
    if st.button("Yes, delete"):
        for run_id in selected:
            store.delete(run_id)
        st.session_state.pop("runs-confirm")
        list_runs.clear()
        st.rerun()

for run_id in selected:
    result = stored_run(run_id)
    if result is None:
        continue
    with st.container(border=True):
        st.markdown(f"**{result.config.describe()}** · `{run_id}` · {result.status}")
        d = st.columns(3)
        d[0].download_button("Summary (JSON)", json.dumps(result.summary(), indent=1, allow_nan=False),
                             f"{run_id}.json", "application/json", key=f"dl-json-{run_id}")
        d[1].download_button("Epochs (CSV)", result.epochs.to_csv(index=False), f"{run_id}-epochs.csv",
                             "text/csv", key=f"dl-epochs-{run_id}")
        layer_stats = result.layer_stats.merge(result.layers[["layer", "name"]], on="layer")
        d[2].download_button("Layer statistics (CSV)", layer_stats.to_csv(index=False),
                             f"{run_id}-layer-stats.csv", "text/csv", key=f"dl-stats-{run_id}")
