# How one recipe builds against another (DEPENDS = "libgreet"):
#
# - the producer's do_populate_sysroot copies the SYSROOT_DIRS parts of its
#   D (headers, libraries, data) into SYSROOT_DESTDIR in its own WORKDIR and
#   publishes that copy as SYSROOT_COMPONENT, i.e.
#   TMPDIR/sysroots-components/<PACKAGE_ARCH>/<PN>; both directories are
#   in the task's [cleandirs], so they are its outputs;
# - the consumer's do_prepare_recipe_sysroot, which depends on the
#   do_populate_sysroot of every recipe in DEPENDS ([deptask]), copies each
#   of those components into a fresh RECIPE_SYSROOT in its own WORKDIR;
# - the consumer compiles with CPPFLAGS/LDFLAGS pointing into
#   RECIPE_SYSROOT (conf/bitbake.conf).
#
# Only direct DEPENDS are staged: a task can only read the outputs of the
# tasks it depends on. Files are copied, not hard-linked, so the
# components can be mounted read-only for the consumer.

SYSROOT_COMPONENT = "${COMPONENTS_DIR}/${PACKAGE_ARCH}/${PN}"

do_populate_sysroot[dirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[cleandirs] = "${SYSROOT_DESTDIR} ${SYSROOT_COMPONENT}"
do_populate_sysroot() {
    for dir in ${SYSROOT_DIRS}; do
        if [ -d "${D}$dir" ]; then
            mkdir -p "${SYSROOT_DESTDIR}$dir"
            cp -R -P --preserve=mode,timestamps "${D}$dir/." "${SYSROOT_DESTDIR}$dir/"
        fi
    done
    cp -R -P --preserve=mode,timestamps "${SYSROOT_DESTDIR}/." "${SYSROOT_COMPONENT}/"
}
addtask populate_sysroot after do_install before do_build

do_prepare_recipe_sysroot[dirs] = "${RECIPE_SYSROOT}"
do_prepare_recipe_sysroot[cleandirs] = "${RECIPE_SYSROOT}"
do_prepare_recipe_sysroot[deptask] = "do_populate_sysroot"
do_prepare_recipe_sysroot() {
    for dep in ${@' '.join(bb.utils.explode_deps(d.getVar('DEPENDS') or ''))}; do
        component="${COMPONENTS_DIR}/${PACKAGE_ARCH}/$dep"
        if [ ! -d "$component" ]; then
            bbfatal "DEPENDS names $dep, but $component does not exist (no do_populate_sysroot output)"
        fi
        bbnote "Staging $dep"
        cp -R -P --preserve=mode,timestamps "$component/." "${RECIPE_SYSROOT}/"
    done
}
addtask prepare_recipe_sysroot before do_configure after do_fetch
