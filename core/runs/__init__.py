"""Runs: the run store, the runner (get or train, one run or many) and the background job queue. Imports the engine, never lab or views."""
