A = "a"
require missing.inc
B = "b"
