"""bb.progress for Bitzel: progress handlers used while building."""


class ProgressHandler:
    def __init__(self, d, outfile=None):
        self._data = d
        self._outfile = outfile

    def write(self, string):
        if self._outfile:
            self._outfile.write(string)

    def update(self, progress, rate=None):
        pass


class LineFilterProgressHandler(ProgressHandler):
    pass


class BasicProgressHandler(ProgressHandler):
    def __init__(self, d, regex=r"(\d+)%", outfile=None):
        ProgressHandler.__init__(self, d, outfile)


class OutOfProgressHandler(ProgressHandler):
    def __init__(self, d, regex, outfile=None):
        ProgressHandler.__init__(self, d, outfile)
