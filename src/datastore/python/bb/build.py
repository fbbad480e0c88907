"""bb.build for Bitzel: task bookkeeping used at parse time. Running tasks
is the executor's job (issue #5)."""


class FuncFailed(Exception):
    pass


class TaskBase:
    def __init__(self, t, fn, logfile, d):
        self.taskname = t
        self.fn = fn
        self.logfile = logfile
        self._message = ""


class TaskStarted(TaskBase):
    pass


class TaskSucceeded(TaskBase):
    pass


class TaskFailed(TaskBase):
    pass


class TaskFailedSilent(TaskBase):
    pass


class TaskInvalid(TaskBase):
    pass


def _prefixed(task):
    return task if task.startswith("do_") else "do_" + task


def addtask(task, before, after, d):
    task = _prefixed(task)
    d.setVarFlag(task, "task", 1)
    tasks = d.getVar("__BBTASKS", False) or []
    if task not in tasks:
        tasks.append(task)
    d.setVar("__BBTASKS", tasks)
    existing = d.getVarFlag(task, "deps", False) or []
    if after is not None:
        for entry in after.split():
            entry = _prefixed(entry)
            if entry not in existing:
                existing.append(entry)
    d.setVarFlag(task, "deps", existing)
    if before is not None:
        for entry in before.split():
            entry = _prefixed(entry)
            deps = d.getVarFlag(entry, "deps", False) or []
            if task not in deps:
                d.setVarFlag(entry, "deps", [task] + deps)


def deltask(task, d):
    task = _prefixed(task)
    tasks = d.getVar("__BBTASKS", False) or []
    if task in tasks:
        tasks.remove(task)
        d.delVarFlag(task, "task")
        d.setVar("__BBTASKS", tasks)
    d.delVarFlag(task, "deps")
    for other in d.getVar("__BBTASKS", False) or []:
        deps = d.getVarFlag(other, "deps", False) or []
        if task in deps:
            deps.remove(task)
            d.setVarFlag(other, "deps", deps)


def exec_func(func, d, dirs=None):
    raise FuncFailed("bb.build.exec_func(%s) at parse time is not supported by Bitzel yet" % func)
