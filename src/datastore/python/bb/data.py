"""bb.data for Bitzel: helpers over the datastore."""


def init():
    raise NotImplementedError("bb.data.init: Bitzel creates datastores in Rust")


def createCopy(source):
    return source.createCopy()


def expand(s, d, varname=None):
    return d.expand(s, varname)


def getVar(var, d, exp=False):
    return d.getVar(var, exp)


def setVar(var, value, d):
    d.setVar(var, value)


def inherits_class(klass, d):
    needle = "/%s.bbclass" % klass
    for path in d.getVar("__inherit_cache", False) or []:
        if path.endswith(needle):
            return True
    return False


def expandKeys(alterdata, readdata=None):
    if readdata is None:
        readdata = alterdata
    todolist = {}
    for key in alterdata:
        if "${" not in key:
            continue
        ekey = readdata.expand(key)
        if key != ekey:
            todolist[key] = ekey
    for key in sorted(todolist):
        alterdata.renameVar(key, todolist[key])
