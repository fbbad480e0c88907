SUMMARY = "A program that greets, linked against libgreet"
LICENSE = "MIT"

DEPENDS = "libgreet"

SRC_URI = "file://main.c"

do_compile() {
    ${CC} ${CFLAGS} -o greet-app main.c ${LDFLAGS} -lgreet
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 greet-app ${D}${bindir}/greet-app
}
