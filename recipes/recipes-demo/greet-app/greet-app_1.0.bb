SUMMARY = "A program that greets, linked against libgreet"
LICENSE = "MIT"

# libgreet's headers and library come from RECIPE_SYSROOT, staged by
# do_prepare_recipe_sysroot from libgreet's do_populate_sysroot.
DEPENDS = "libgreet"

SRC_URI = "file://main.c"
S = "${UNPACKDIR}"

# No rpath: like any target binary, greet-app finds libgreet.so.1 in
# /usr/lib of the system it is installed on. To run it from the build:
#   LD_LIBRARY_PATH=${RECIPE_SYSROOT}${libdir} ${D}${bindir}/greet-app
do_compile() {
    ${CC} ${CPPFLAGS} ${CFLAGS} -o greet-app main.c ${LDFLAGS} -lgreet
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 greet-app ${D}${bindir}/greet-app
}
