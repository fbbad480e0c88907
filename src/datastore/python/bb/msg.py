"""bb.msg for Bitzel."""

import logging

domain = None


def logger_create(name, output=None, level=logging.INFO, preserve_handlers=False, color="auto"):
    return logging.getLogger(name)
