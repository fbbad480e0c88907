SUMMARY = "A greeting library"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://COPYING;md5=0123456789abcdef0123456789abcdef"

SRC_URI = "file://greet.c \
           file://greet.h \
           file://0001-fix.patch;striplevel=1 \
           "
S = "${UNPACKDIR}"

inherit pkgconfig

EXTRA_OEMAKE:append:class-native = " NATIVE=1"
PACKAGECONFIG ??= "${@bb.utils.filter('DISTRO_FEATURES', 'x11', d)}"

do_compile() {
    ${CC} ${CFLAGS} -fPIC -shared -o libgreet.so greet.c ${LDFLAGS}
}

do_install() {
    install -d ${D}${libdir} ${D}${includedir}
    install -m 0755 libgreet.so ${D}${libdir}/
    install -m 0644 greet.h ${D}${includedir}/
}

python () {
    if not d.getVar("GREETING"):
        raise bb.parse.SkipRecipe("GREETING is not set")
}

BBCLASSEXTEND = "native nativesdk"
