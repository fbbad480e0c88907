do_compile() {
    recipe compile
}
inherit mybuild
do_configure:append() {
    echo extra
}
