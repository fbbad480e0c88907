#### a syntax error
    a = 1
    b = (
    c = 2
#### inconsistent indentation
    a = 1
  b = 2
#### getVar without arguments
x = 1
d.getVar()
#### getVarFlag without a flag
d.getVarFlag("V")
#### contains without an item
bb.utils.contains("V")
#### contains_any with a non-string item list
bb.utils.contains_any("V", 3, "a", "b", d)
#### exec_func without arguments
bb.build.exec_func()
#### expand without arguments
d.expand()
#### keyword arguments only
d.getVar(name="V")
