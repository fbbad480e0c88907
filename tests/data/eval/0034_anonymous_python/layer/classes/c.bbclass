python () {
    d.setVar("ORDER", d.getVar("ORDER") + " c")
}
