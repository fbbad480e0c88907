"""bb.filter for Bitzel: value filters (`d.setVarFilter`) and the
functions metadata registers for them with `@bb.filter.filter_proc()`."""

FILTERS = {}
_cache = {}


def filter_proc(name=None):
    def decorator(func):
        FILTERS[name or func.__name__] = func
        return func
    return decorator


def apply_filters(val, expressions):
    for expression in expressions:
        expression = expression.strip()
        if not expression:
            continue
        key = (val, expression)
        if key not in _cache:
            _cache[key] = eval(expression, dict(FILTERS), {"val": val})
        val = _cache[key]
    return val
