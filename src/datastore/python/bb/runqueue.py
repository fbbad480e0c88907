"""bb.runqueue for Bitzel: task-id helpers metadata python uses."""


def split_mc(n):
    if n.startswith("mc:") and n.count(":") >= 2:
        _, mc, n = n.split(":", 2)
        return (mc, n)
    return ("", n)


def split_tid(tid):
    (mc, fn, taskname, _) = split_tid_mcfn(tid)
    return (mc, fn, taskname)


def split_tid_mcfn(tid):
    if tid.startswith("mc:") and tid.count(":") >= 2:
        elems = tid.split(":")
        mc = elems[1]
        fn = ":".join(elems[2:-1])
        taskname = elems[-1]
        mcfn = "mc:" + mc + ":" + fn
    else:
        tid = tid.rsplit(":", 1)
        mc = ""
        fn = tid[0]
        taskname = tid[1]
        mcfn = fn
    return (mc, fn, taskname, mcfn)


def fn_from_tid(tid):
    return tid.rsplit(":", 1)[0]


def taskname_from_tid(tid):
    return tid.rsplit(":", 1)[1]


def mc_from_tid(tid):
    if tid.startswith("mc:") and tid.count(":") >= 2:
        return tid.split(":")[1]
    return ""


def build_tid(mc, fn, taskname):
    if mc:
        return "mc:" + mc + ":" + fn + ":" + taskname
    return fn + ":" + taskname
