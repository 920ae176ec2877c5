"""Views: chart specifications, per-layer data frames for charts, and share links. Pure functions of results; no streamlit."""
