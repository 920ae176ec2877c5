"""Stand-ins the tests share."""


class FakeSamples:
    """Per-seed values by (row, metric), as core.lab.tables.Samples gives them (columns ignored)."""

    def __init__(self, values, epochs=10, preset=None):
        self.data, self.n_epochs, self.preset = values, epochs, preset

    def values(self, row, column, metric, base_row=None):
        return self.data[(row, metric)]

    def correct(self, row, column, split):
        return None

    def ran(self, row, column, k):
        return True

    def epochs(self, row, column):
        return self.n_epochs
