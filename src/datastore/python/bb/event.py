"""bb.event for Bitzel: event classes by name, and a fire() that delivers
nothing yet (event handlers run with the executor)."""


class Event:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


_classes = {}


def __getattr__(name):
    # Metadata names event classes (in [eventmask] and isinstance checks);
    # every such name is a distinct Event subclass.
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(name)
    if name not in _classes:
        _classes[name] = type(name, (Event,), {})
    return _classes[name]


def fire(event, d):
    pass


def register(name, handler, mask=None, filename=None, lineno=None, data=None):
    pass
