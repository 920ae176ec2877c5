"""The lab: presets of the source documents, reproduction, comparison, diagnosis and scenarios. Built on the engine and runs."""
