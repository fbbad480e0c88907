"""bb.data_smart for Bitzel: the datastore class (Rust) and its errors."""

import _bitzel

DataSmart = _bitzel.DataSmart


class ExpansionError(Exception):
    def __init__(self, varname, expression, exception):
        self.expression = expression
        self.variablename = varname
        self.exception = exception
        self.varlist = [varname or expression or ""]
        if varname:
            self.msg = "Failure expanding variable %s: %s" % (varname, exception)
        else:
            self.msg = "Failure expanding expression %s: %s" % (expression, exception)
        Exception.__init__(self, self.msg)
        self.args = (varname, expression, exception)

    def addVar(self, varname):
        if varname:
            self.varlist.append(varname)

    def __str__(self):
        return self.msg
