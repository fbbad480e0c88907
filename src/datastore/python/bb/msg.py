"""bb.msg for Bitzel. `logging` is imported when a logger is asked for: it
is among the costlier modules to import at every task start."""

domain = None

# logging.INFO
_INFO = 20


def logger_create(name, output=None, level=_INFO, preserve_handlers=False, color="auto"):
    import logging
    return logging.getLogger(name)
