inherit_defer rec
python () {
    d.setVar("ANON", "ran for " + d.getVar("PN"))
}
