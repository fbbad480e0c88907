SUMMARY = "Prints a greeting"
LICENSE = "MIT"

SRC_URI = "file://hello.c"

do_compile() {
    ${CC} ${CFLAGS} -o hello hello.c ${LDFLAGS}
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 hello ${D}${bindir}/hello
}
