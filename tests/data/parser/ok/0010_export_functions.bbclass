mybuild_do_configure() {
    ./configure ${EXTRA}
}

python mybuild_do_compile() {
    bb.note("compiling")
}

EXPORT_FUNCTIONS do_configure do_compile
