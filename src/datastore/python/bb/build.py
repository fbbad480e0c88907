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


def add_tasks(tasklist, d):
    """Task set-up at the end of finalisation: `[task]` on every task, and
    `_task_deps` recording the dependency flags of each."""
    task_deps = d.getVar("_task_deps", False)
    if not isinstance(task_deps, dict):
        task_deps = {}
    task_deps.setdefault("tasks", [])
    task_deps.setdefault("parents", {})
    for task in tasklist:
        task = d.expand(task)
        d.setVarFlag(task, "task", 1)
        if task not in task_deps["tasks"]:
            task_deps["tasks"].append(task)
        flags = d.getVarFlags(task) or {}
        for name in ("mcdepends", "depends", "rdepends", "deptask", "rdeptask", "recrdeptask",
                     "recideptask", "nostamp", "fakeroot", "noexec", "umask"):
            task_deps.setdefault(name, {})
            if name in flags:
                task_deps[name][task] = d.expand(flags[name])
        task_deps["parents"][task] = []
        for dep in flags.get("deps", []) or []:
            task_deps["parents"][task].append(d.expand(dep))
    d.setVar("_task_deps", task_deps)


def exec_func(func, d, dirs=None):
    """Runs a function of the datastore from python (a python task calling
    another function). Python functions run here; shell functions run as
    a script with the exported variables, like a shell task."""
    import os
    import subprocess
    import _bitzel_host
    flags = d.getVarFlags(func) or {}
    for name in (d.expand(flags.get("cleandirs") or "")).split():
        bb.utils.remove(name, True)
        bb.utils.mkdirhier(name)
    if dirs is None:
        dirs = (d.expand(flags.get("dirs") or "")).split()
    for name in dirs:
        bb.utils.mkdirhier(name)
    cwd = dirs[-1] if dirs else None
    if flags.get("python"):
        try:
            old = os.getcwd()
        except OSError:
            # The directory was emptied and re-created above.
            old = None
        try:
            if cwd:
                os.chdir(cwd)
            return _bitzel_host.exec_python_func(func, d)
        finally:
            if old:
                os.chdir(old)
    lines = ["#!/bin/sh", "set -e"]
    env = {}
    for key in d.keys():
        if d.getVarFlag(key, "export", False) and not d.getVarFlag(key, "unexport", False):
            value = d.getVar(key)
            if value is not None:
                env[key] = value
    lines.append("%s() {\n%s\n}" % (func, d.getVar(func) or ":"))
    lines.append(func)
    result = subprocess.run(["/bin/sh", "-c", "\n".join(lines)], cwd=cwd, env=env)
    if result.returncode != 0:
        raise FuncFailed("%s failed with exit code %d" % (func, result.returncode))


def tasksbetween(task_start, task_end, d):
    """The tasks on dependency paths from task_start up to task_end, in
    the order a depth-first walk from task_start meets them."""
    # Only names with a [task] flag can have a true one; Bitzel's
    # datastore lists them without walking every name (same order).
    names = getattr(d, "_bitzel_names_with_flag", None)
    names = names("task") if names is not None else d.keys()
    tasks = [k for k in names if d.getVarFlag(k, "task")]
    found = []

    def follow(task, chain):
        if task in chain:
            import bb
            bb.fatal("Circular task dependencies as %s depends on itself via the chain %s" % (task, " -> ".join(chain)))
        chain.append(task)
        for other in tasks:
            if other == task:
                continue
            if task == task_end:
                for link in chain:
                    if link not in found:
                        found.append(link)
            else:
                deps = d.getVarFlag(other, "deps", False) or []
                if task in deps:
                    follow(other, chain)
        chain.pop()

    follow(task_start, [])
    return found
