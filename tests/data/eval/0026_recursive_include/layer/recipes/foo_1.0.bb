A = "a"
include loop.inc
