DEPENDS = "a"
DEPENDS:append = " queued"
python () {
    if d.getVar("WANT_EXTRA") == "1":
        d.setVar("DEPENDS", d.getVar("DEPENDS") + "   extra  ")
}
WANT_EXTRA = "1"
