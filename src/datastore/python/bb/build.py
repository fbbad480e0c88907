"""bb.build for Bitzel: task bookkeeping used at parse time, and running
a task's functions (exec_task, exec_func) as BitBake's worker does, inside
the task's sandbox."""


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


def _empty_dir(path):
    """`[cleandirs]`: the directory exists and is empty afterwards. Its
    contents are removed rather than the directory itself, which in a
    task's sandbox may be a mount point."""
    import os
    import shutil
    if os.path.isdir(path) and not os.path.islink(path):
        for entry in os.scandir(path):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    else:
        bb.utils.remove(path, True)
        bb.utils.mkdirhier(path)


def _flush():
    import sys
    sys.stdout.flush()
    sys.stderr.flush()


def exec_func(func, d, dirs=None):
    """Runs function `func` of the datastore as BitBake does: its
    `[cleandirs]` emptied, its `[dirs]` (or `dirs`) created and the last
    one its working directory, then the function, python here or shell
    as a script `T/run.FUNC.PID` in a child process. The working
    directory is the caller's again afterwards."""
    import os
    import _bitzel
    import _bitzel_host
    try:
        oldcwd = os.getcwd()
    except OSError:
        oldcwd = None
    flags = d.getVarFlags(func) or {}
    for name in d.expand(flags.get("cleandirs") or "").split():
        _empty_dir(name)
    if dirs is None:
        dirs = d.expand(flags.get("dirs") or "").split()
    for name in dirs:
        bb.utils.mkdirhier(name)
    cwd = dirs[-1] if dirs else None
    body = d.getVar(func, False)
    if not body:
        if body is None:
            bb.warn("Function %s doesn't exist" % func)
        return
    tempdir = d.getVar("T")
    task = d.getVar("BB_RUNTASK") or func
    runfile = os.path.join(tempdir, "run.%s.%d" % (func, os.getpid()))
    bb.utils.mkdirhier(tempdir)
    if task == func:
        # The courtesy link to the task's own script.
        link = os.path.join(tempdir, "run.%s" % task)
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        try:
            os.symlink(os.path.basename(runfile), link)
        except OSError:
            pass
    try:
        if flags.get("python"):
            print("DEBUG: Executing python function %s" % func)
            with open(runfile, "w") as script:
                script.write("def %s(d):\n%s\n\n%s(d)\n" % (func, body, func))
            if cwd:
                os.chdir(cwd)
            _bitzel_host.exec_python_func(func, d)
            _flush()
            print("DEBUG: Python function %s finished" % func)
        else:
            print("DEBUG: Executing shell function %s" % func)
            # The emitted script must not override PWD.
            d.delVarFlag("PWD", "export")
            shell_script = getattr(_bitzel, "shell_script", None)
            if shell_script is not None:
                text = shell_script(d, func, cwd)
            else:
                text = _plain_shell_script(func, d, cwd)
            with open(runfile, "w") as script:
                script.write(text)
            os.chmod(runfile, 0o775)
            _flush()
            import subprocess
            result = subprocess.run(["sh", runfile])
            if result.returncode != 0:
                raise FuncFailed("Execution of '%s' failed with exit code %d"
                                 % (runfile, result.returncode))
            print("DEBUG: Shell function %s finished" % func)
    finally:
        _flush()
        if oldcwd:
            try:
                os.chdir(oldcwd)
            except OSError:
                pass


def _plain_shell_script(func, d, cwd):
    """Outside a task (no script generator): the exported variables and
    the function alone."""
    lines = ["#!/bin/sh", "set -e"]
    for key in d.keys():
        if d.getVarFlag(key, "export", False) and not d.getVarFlag(key, "unexport", False):
            value = d.getVar(key)
            if value is not None and key.isidentifier():
                lines.append("export %s='%s'" % (key, value.replace("'", "'\\''")))
    lines.append("%s() {\n%s\n}" % (func, d.getVar(func) or ":"))
    if cwd:
        lines.append("cd '%s'" % cwd.replace("'", "'\\''"))
    lines.append(func)
    return "\n".join(lines) + "\n"


def exec_task(fn, task, d):
    """Runs a task as BitBake's worker does: each of its `[prefuncs]`,
    the task's own function, each of its `[postfuncs]`, in that order,
    through exec_func (so each with its own directories). Returns 0, or 1
    after printing why it failed."""
    d.setVar("BB_RUNTASK", task)
    prefuncs = d.getVarFlag(task, "prefuncs") or ""
    postfuncs = d.getVarFlag(task, "postfuncs") or ""
    try:
        for func in prefuncs.split():
            exec_func(func, d)
        exec_func(task, d)
        for func in postfuncs.split():
            exec_func(func, d)
    except bb.BBHandledException:
        # bb.fatal has said why.
        _flush()
        return 1
    except FuncFailed as failure:
        _flush()
        print("ERROR: %s" % failure)
        _flush()
        return 1
    except Exception:
        import traceback
        _flush()
        print("ERROR: Error executing a python function in %s:" % task)
        print(traceback.format_exc().rstrip())
        _flush()
        return 1
    return 0


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
