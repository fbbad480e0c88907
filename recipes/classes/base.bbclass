# Inherited by every recipe (and by the configuration): the standard tasks,
# in OpenEmbedded's order and with its names:
#
#   do_fetch -> do_unpack -> do_patch -> do_configure -> do_compile
#     -> do_install -> do_populate_sysroot -> do_build
#   do_fetch -> do_prepare_recipe_sysroot -> do_configure
#
# Every task writes only inside its recipe's WORKDIR and the directories
# named in its own [dirs]/[cleandirs] (do_fetch: DL_DIR); what it changes
# there is its output. A recipe's files reach another recipe only through
# do_populate_sysroot (classes/staging.bbclass).
#
# A recipe replaces a task by defining it (do_compile() { ... }); the
# default stays callable as base_do_<task>.

inherit logging
inherit patch
inherit staging

##################################################################
# Host tools: when the configuration has been parsed, HOSTTOOLS_DIR gets a
# symbolic link to each tool named in HOSTTOOLS, found on the PATH BitBake
# was started with. Tasks run with PATH = HOSTTOOLS_DIR (conf/bitbake.conf).
##################################################################

addhandler base_hosttools_setup
base_hosttools_setup[eventmask] = "bb.event.ConfigParsed"
python base_hosttools_setup() {
    hosttools_link(d)
}

def hosttools_link(d):
    """Makes HOSTTOOLS_DIR hold exactly one link per HOSTTOOLS entry;
    stops the build naming every tool that is not on the original PATH."""
    import os
    dest = d.getVar('HOSTTOOLS_DIR')
    origenv = d.getVar('BB_ORIGENV', False)
    search = (origenv.getVar('PATH') if origenv else None) or os.environ.get('PATH', '')
    # HOSTTOOLS_DIR itself on that PATH would make links to themselves.
    search = ':'.join(p for p in search.split(':')
                      if p and os.path.realpath(p) != os.path.realpath(dest))
    tools = sorted(set((d.getVar('HOSTTOOLS') or '').split()))
    bb.utils.mkdirhier(dest)
    for name in os.listdir(dest):
        if name not in tools and os.path.islink(os.path.join(dest, name)):
            os.unlink(os.path.join(dest, name))
    missing = []
    for tool in tools:
        link = os.path.join(dest, tool)
        target = bb.utils.which(search, tool, executable=True)
        if not target:
            missing.append(tool)
            continue
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    if missing:
        bb.fatal("These tools named in HOSTTOOLS are not on the PATH (%s): %s"
                 % (search, ' '.join(missing)))

# make, with the build's parallelism and the recipe's EXTRA_OEMAKE.
oe_runmake() {
    bbnote ${MAKE} ${PARALLEL_MAKE} ${EXTRA_OEMAKE} "$@"
    ${MAKE} ${PARALLEL_MAKE} ${EXTRA_OEMAKE} "$@" || die "make failed"
}

##################################################################
# Fetching and unpacking: BitBake's fetcher, on SRC_URI.
##################################################################

# Downloads remote SRC_URI entries into DL_DIR (checking SRC_URI[sha256sum]),
# trying PREMIRRORS, the URL, then MIRRORS; git:// entries are cloned into
# DL_DIR/git2. file:// entries are found through FILESPATH when unpacking;
# their contents are part of this task's signature through [file-checksums].
# The revisions of SCM entries (SRCREV) are part of the signatures of
# do_fetch and do_unpack through fetch_revisions (BitBake's code readers
# cannot see them being read inside the fetcher).
fetch_revisions[vardepvalue] = "${@bb.fetch.get_hashvalue(d)}"
do_fetch[vardeps] += "fetch_revisions"
do_unpack[vardeps] += "fetch_revisions"
do_fetch[dirs] = "${DL_DIR}"
do_fetch[network] = "1"
do_fetch[file-checksums] = "${@bb.fetch.get_checksum_file_list(d)}"
python base_do_fetch() {
    src_uri = (d.getVar('SRC_URI') or '').split()
    if not src_uri:
        return
    try:
        bb.fetch2.Fetch(src_uri, d).download()
    except bb.fetch2.BBFetchException as e:
        bb.fatal("%s: %s" % (d.getVar('PN'), e))
}
addtask fetch

# Unpacks every SRC_URI entry into a fresh UNPACKDIR (archives extracted,
# other files copied, git checked out), which must then contain S.
do_unpack[dirs] = "${UNPACKDIR}"
do_unpack[cleandirs] = "${UNPACKDIR}"
python base_do_unpack() {
    import os
    src_uri = (d.getVar('SRC_URI') or '').split()
    if src_uri:
        try:
            bb.fetch2.Fetch(src_uri, d).unpack(d.getVar('UNPACKDIR'))
        except bb.fetch2.BBFetchException as e:
            bb.fatal("%s: %s" % (d.getVar('PN'), e))
    if not os.path.isdir(d.getVar('S')):
        bb.fatal("%s: S (%s) does not exist after unpacking; set S to the "
                 "directory the sources unpack to (UNPACKDIR for loose files)"
                 % (d.getVar('PN'), d.getVar('S')))
}
addtask unpack after do_fetch

##################################################################
# Building.
##################################################################

do_configure[dirs] = "${B}"
base_do_configure() {
    :
}
addtask configure after do_patch

# The default compile step runs make when the sources have a Makefile.
do_compile[dirs] = "${B}"
base_do_compile() {
    if [ -e Makefile ] || [ -e makefile ] || [ -e GNUmakefile ]; then
        oe_runmake
    else
        bbnote "${PN}: no Makefile in ${B}, nothing to compile"
    fi
}
addtask compile after do_configure

# Installs into a fresh D, laid out as on the target (D/usr/bin, ...).
do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"
base_do_install() {
    :
}
addtask install after do_compile

# The default task: nothing of its own, it only pulls in the others.
do_build[noexec] = "1"
base_do_build() {
    :
}
addtask build

EXPORT_FUNCTIONS do_fetch do_unpack do_configure do_compile do_install do_build
