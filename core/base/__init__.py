"""The base every layer may use: the run configuration and its limits, the dataset catalogue,
the cost model and the declared instruments. It imports nothing else of `core`."""
