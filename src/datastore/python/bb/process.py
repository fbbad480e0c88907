"""bb.process for Bitzel: running host commands. `subprocess` is imported
when a command runs: it is among the costlier modules to import at every
task start."""


class CmdError(RuntimeError):
    def __init__(self, command, msg=None):
        self.command = command
        self.msg = msg
        RuntimeError.__init__(self, command, msg)


class NotFoundError(CmdError):
    pass


class ExecutionError(CmdError):
    def __init__(self, command, exitcode, stdout=None, stderr=None):
        CmdError.__init__(self, command)
        self.exitcode = exitcode
        self.stdout = stdout
        self.stderr = stderr


def run(cmd, input=None, log=None, extrafiles=None, **options):
    import subprocess
    shell = isinstance(cmd, str)
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    try:
        proc = subprocess.Popen(cmd, shell=shell, stdin=subprocess.PIPE if input else None, **options)
    except FileNotFoundError as exc:
        raise NotFoundError(cmd) from exc
    stdout, stderr = proc.communicate(input)
    stdout = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout
    stderr = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    if proc.returncode:
        raise ExecutionError(cmd, proc.returncode, stdout, stderr)
    return stdout, stderr
