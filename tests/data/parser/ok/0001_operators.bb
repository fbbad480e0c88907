# The eight assignment operators, each with and without spaces.
A = "plain"
B ?= "default"
C ??= "weak"
D := "${A} now"
E += "append"
F =+ "prepend"
G .= "dot-append"
H =. "dot-prepend"
I+="tight"
J=.'single quotes'
K = ""
L = "say "hi""
M = 'it"s'
N = "a"b"c"
