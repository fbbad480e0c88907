"""bb.filter for Bitzel: value filters metadata declares."""


def filter_proc(name=None):
    def decorator(func):
        return func
    return decorator


def apply_filters(value, filters):
    return value
