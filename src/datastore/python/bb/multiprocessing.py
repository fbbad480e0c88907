"""bb.multiprocessing for Bitzel: python's multiprocessing, as BitBake
re-exports it."""

from multiprocessing import *  # noqa: F401,F403
