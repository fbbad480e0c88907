mybuild_do_configure() {
    ./configure ${EXTRA}
}
mybuild_do_compile() {
    make
}
python mybuild_do_report() {
    bb.note("report")
}
EXPORT_FUNCTIONS do_configure do_compile do_report
