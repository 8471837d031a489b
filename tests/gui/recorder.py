"""What a Qt model announces, recorded in order, for tests of row operations."""


class Recorder:
    """Every structural signal a model emits, in order."""

    def __init__(self, model):
        self.events = []
        model.rowsInserted.connect(lambda _p, first, last: self.events.append(("inserted", first, last)))
        model.rowsRemoved.connect(lambda _p, first, last: self.events.append(("removed", first, last)))
        model.dataChanged.connect(lambda top, bottom, _roles: self.events.append(("changed", top.row(), bottom.row())))
        model.modelReset.connect(lambda: self.events.append(("reset",)))
        model.layoutChanged.connect(lambda: self.events.append(("layout",)))

    def take(self):
        events, self.events = self.events, []
        return events
