A = "before"
include does-not-exist.inc
include ${@""}
B = "after"
