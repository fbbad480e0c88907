#### getVar and friends with a literal name
d.getVar("A")
d.getVar('B', False)
d.getVar("C", expand=True)
localdata.getVar("D")
d.appendVar("E", " more")
d.prependVar("F", "less ")
#### any dotted name ending in .getVar counts
self.d.getVar("G")
x.y.z.getVar("H")
#### oe.utils.conditional
oe.utils.conditional("COND", "1", "yes", "no", d)
#### non-literal names are not followed
name = "N"
d.getVar(name)
d.getVar("PRE_" + name)
d.getVar(*names)
d.getVar(f"FMT_{name}")
#### a getVar whose object is not a plain name has no name
bb.data.createCopy(d).getVar("NOT_SEEN")
d["x"].getVar("NOT_SEEN_EITHER")
#### a bare getVar is an ordinary call
getVar("PLAIN")
#### a non-string literal name is not followed
d.getVar(42)
