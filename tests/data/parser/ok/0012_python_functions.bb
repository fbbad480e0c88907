python do_configure() {
    bb.build.exec_func("oe_runconf", d)
}
python () {
    if d.getVar("FOO") == "1":
        d.appendVar("DEPENDS", " bar")
}
python __anonymous () {
    pass
}
python(){
    pass
}
fakeroot do_install() {
    chown root:root ${D}
}
fakeroot python do_package() {
    pass
}
python fakeroot do_mixed () {
    pass
}
python do_foo:prepend() {
    bb.note("first")
}
pythonic() {
    echo "a shell function named pythonic"
}
