SUMMARY = "Prints a greeting; built from a release tarball with make"
LICENSE = "MIT"

# Fetched over HTTP from DEMO_MIRROR (conf/bitbake.conf; default
# http://127.0.0.1:8000), checked against the checksum below, unpacked to
# ${UNPACKDIR}/hello-1.0 (the default S). The tarball is made from tarball/
# by scripts/bitbake-demo.sh, reproducibly (GNU tar and gzip):
#   tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner
#       --mode=u=rwX,go=rX --format=gnu -C tarball -cf - hello-1.0 | gzip -9n
SRC_URI = "${DEMO_MIRROR}/hello-${PV}.tar.gz"
SRC_URI[sha256sum] = "727774aaf05b3250acca1b3cdfd74ce40d8f85cc5e785df4c6a1163d3ee627ae"

# do_compile is the default one: make, with CC, CFLAGS, ... from the
# environment.
do_install() {
    oe_runmake install DESTDIR=${D} prefix=${prefix}
}
