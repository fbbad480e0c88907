CLS = "one"
inherit_defer ${CLS}
CLS = "two"
A = "recipe"
inherit late
L = "recipe"
COND = ""
COND:myoverride = "myclass"
inherit_defer ${COND}
