"""bb.tinfoil for Bitzel: BitBake's client API is not offered."""


class TinfoilUIException(Exception):
    pass


class Tinfoil:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("bb.tinfoil is not available in Bitzel")
