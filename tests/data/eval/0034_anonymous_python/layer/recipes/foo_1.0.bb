ORDER = "start"
python () {
    d.setVar("ORDER", d.getVar("ORDER") + " r1")
}
inherit c
python __anonymous () {
    d.setVar("ORDER", d.getVar("ORDER") + " r2")
}
python () {
    d.setVar('P', 'from python')
    d.appendVar('Q', ' +python')
    d.setVar('SEEN', d.getVar('LATE'))
    d.setVar('G', 'set in python')
    d.setVar('A', 'py')
    d.appendVar('X', 'b')
    d.prependVar('X', '0')
}
P = "from statement"
Q = "statement"
LATE = "final value"
G = "g"
G:append = " tail"
A = "base"
A:o = "over"
A:zz = "inactive"
X = "a"
