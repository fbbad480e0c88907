"""bb.event for Bitzel: the events BitBake fires while parsing, and the
handlers metadata registers with `addhandler`.

A handler is the python function of that name, run as `NAME(e, d)` for
the events its `[eventmask]` names (all events when empty), with `e.data`
set to the datastore. Events BitBake fires only while building exist as
classes but are not fired yet.
"""

import sys


class Event:
    def __init__(self):
        self.pid = 0


class ConfigParsed(Event):
    """Configuration parsing complete."""


class MultiConfigParsed(Event):
    def __init__(self, mcdata):
        self.mcdata = mcdata
        Event.__init__(self)


class RecipeEvent(Event):
    def __init__(self, fn):
        self.fn = fn
        Event.__init__(self)


class RecipePreDeferredInherits(RecipeEvent):
    def __init__(self, fn, inherits):
        self.fn = fn
        self.inherits = inherits
        Event.__init__(self)


class RecipePreFinalise(RecipeEvent):
    """Recipe parsed, not yet finalised."""


class RecipePostKeyExpansion(RecipeEvent):
    """Keys expanded, anonymous functions not yet run."""


class RecipeTaskPreProcess(RecipeEvent):
    def __init__(self, fn, tasklist):
        self.fn = fn
        self.tasklist = tasklist
        Event.__init__(self)


class RecipeParsed(RecipeEvent):
    """Recipe parsing complete."""


class MetadataEvent(Event):
    def __init__(self, eventtype, eventdata):
        Event.__init__(self)
        self.type = eventtype
        self._localdata = eventdata


class BuildBase(Event):
    def __init__(self, n, p, failures=0):
        self._name = n
        self._pkgs = p
        self._failures = failures
        Event.__init__(self)


class BuildStarted(BuildBase):
    pass


class BuildCompleted(BuildBase):
    pass


def __getattr__(name):
    # Any other event class metadata names (in isinstance checks) exists,
    # distinct, but is never fired while parsing.
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(name)
    cls = type(name, (Event,), {"__module__": __name__})
    setattr(sys.modules[__name__], name, cls)
    return cls


# Compiled handler functions, by (name, code).
_compiled = {}


def _handler(name, code, filename, lineno):
    key = (name, code)
    func = _compiled.get(key)
    if func is None:
        import bb.utils
        text = "\n" * max((lineno or 1) - 1, 0) + "def %s(e, d):\n%s" % (name, code)
        env = dict(bb.utils.get_context())
        exec(compile(text, filename or "%s(e, d)" % name, "exec"), env)
        func = env[name]
        _compiled[key] = func
    return func


def fire(event, d):
    """Runs the datastore's handlers whose mask names this event."""
    if d is None:
        return
    event_id = "%s.%s" % (type(event).__module__, type(event).__name__)
    for name in d.getVar("__BBHANDLERS", False) or []:
        mask = (d.getVarFlag(name, "eventmask") or "").split()
        if mask and "*" not in mask and event_id not in mask:
            continue
        code = d.getVar(name, False)
        if code is None:
            continue
        lineno = d.getVarFlag(name, "lineno", False)
        handler = _handler(name, code, d.getVarFlag(name, "filename", False), int(lineno) if lineno else 1)
        event.data = d
        try:
            handler(event, d)
        finally:
            del event.data


def register(name, handler, mask=None, filename=None, lineno=None, data=None):
    pass
