do_compile() {
    echo "${PN}"
	echo b
}
python do_py() {
    bb.note("${PN}")
}
fakeroot do_install() {
    install
}
fakeroot python do_both() {
    pass
}
do_foo() {
    first
}
do_foo:append() {
    second
}
do_foo:prepend() {
    zero
}
do_bar() {
    base
}
do_bar:x() {
    over
}
python do_redef() {
    pass
}
do_redef() {
    now shell
}
