SUMMARY = "A shared library that formats greetings"
LICENSE = "MIT"

# Loose files found through FILESPATH (files/), and a patch do_patch applies.
SRC_URI = "file://greet.c \
           file://greet.h \
           file://0001-greet-add-an-exclamation-mark.patch \
           "
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CPPFLAGS} ${CFLAGS} -fPIC -shared -Wl,-soname,libgreet.so.1 ${LDFLAGS} -o libgreet.so.1 greet.c
}

do_install() {
    install -d ${D}${libdir} ${D}${includedir}
    install -m 0755 libgreet.so.1 ${D}${libdir}/
    ln -sf libgreet.so.1 ${D}${libdir}/libgreet.so
    install -m 0644 greet.h ${D}${includedir}/
}
