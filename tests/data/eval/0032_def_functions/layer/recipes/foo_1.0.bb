def foo(d):
    return "x" + d.getVar("PN")
A = "${@foo(d)}"
inherit helpers
B = "${@helper_twice('ab')}"
