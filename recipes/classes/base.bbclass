# The standard tasks, in BitBake's order, for recipes built with the host
# compiler: fetch, unpack, patch, configure, compile, install, then the
# sysroot that dependents build against.

do_fetch[dirs] = "${DL_DIR}"
do_fetch[network] = "1"
python do_fetch() {
    src_uri = (d.getVar('SRC_URI') or "").split()
    if not src_uri:
        return
    fetcher = bb.fetch2.Fetch(src_uri, d)
    fetcher.download()
}
addtask fetch

do_unpack[dirs] = "${UNPACKDIR}"
python do_unpack() {
    src_uri = (d.getVar('SRC_URI') or "").split()
    if not src_uri:
        return
    fetcher = bb.fetch2.Fetch(src_uri, d)
    fetcher.unpack(d.getVar('UNPACKDIR'))
}
addtask unpack after do_fetch

do_patch[dirs] = "${S}"
do_patch() {
    for p in ${@" ".join(u.split(";")[0][len("file://"):] for u in d.getVar("SRC_URI").split() if u.split(";")[0].endswith(".patch"))}; do
        patch -p1 < "${UNPACKDIR}/$p"
    done
}
addtask patch after do_unpack

do_configure[dirs] = "${B}"
do_configure() {
    :
}
addtask configure after do_patch

do_compile[dirs] = "${B}"
do_compile() {
    :
}
addtask compile after do_configure

do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"
do_install() {
    :
}
addtask install after do_compile

do_prepare_recipe_sysroot[dirs] = "${RECIPE_SYSROOT}"
do_prepare_recipe_sysroot[deptask] = "do_populate_sysroot"
do_prepare_recipe_sysroot() {
    for dep in ${DEPENDS}; do
        cp -a "${TMPDIR}/sysroots-components/$dep/." "${RECIPE_SYSROOT}/"
    done
}
addtask prepare_recipe_sysroot before do_configure after do_fetch

do_populate_sysroot[cleandirs] = "${TMPDIR}/sysroots-components/${PN}"
do_populate_sysroot() {
    cp -a "${D}/." "${TMPDIR}/sysroots-components/${PN}/"
}
addtask populate_sysroot after do_install

do_build[noexec] = "1"
do_build() {
    :
}
addtask build after do_populate_sysroot
