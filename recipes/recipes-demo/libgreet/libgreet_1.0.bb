SUMMARY = "A shared library that formats greetings"
LICENSE = "MIT"

SRC_URI = "file://greet.c \
           file://greet.h \
           file://0001-greet-add-an-exclamation-mark.patch \
           "

do_compile() {
    ${CC} ${CFLAGS} -fPIC -shared -Wl,-soname,libgreet.so.1 -o libgreet.so.1 greet.c ${LDFLAGS}
}

do_install() {
    install -d ${D}${libdir} ${D}${includedir}
    install -m 0755 libgreet.so.1 ${D}${libdir}/
    ln -sf libgreet.so.1 ${D}${libdir}/libgreet.so
    install -m 0644 greet.h ${D}${includedir}/
}
