#### getVarFlag with literal variable and flag
d.getVarFlag("do_compile", "doc")
d.appendVarFlag("do_install", "depends", " x:do_populate_sysroot")
d.prependVarFlag("do_fetch", "prefuncs", "a ")
#### a non-literal flag is not followed
d.getVarFlag("V", flag)
#### a non-string literal flag is formatted
d.getVarFlag("V", None)
d.getVarFlag("W", 3)
#### getVarFlags is an ordinary call
d.getVarFlags("ALL")
