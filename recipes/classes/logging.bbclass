# Messages from shell tasks. They go to the task's standard output, so to
# its log (T/log.do_<task>); BitBake shows the end of that log when a task
# fails.

bbnote() {
    echo "NOTE: $*"
}

bbwarn() {
    echo "WARNING: $*"
}

bbfatal() {
    echo "ERROR: $*"
    exit 1
}

die() {
    bbfatal "$*"
}
