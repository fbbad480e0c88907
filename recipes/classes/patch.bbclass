# do_patch: applies, in SRC_URI order, every SRC_URI entry whose name ends
# in .patch or .diff (or that says apply=yes) from the copy do_unpack put in
# UNPACKDIR. Parameters: striplevel (default 1), patchdir (relative to S,
# default S), apply=no to only unpack a file.
#
# The patches applied are listed in S/.applied-patches. When do_patch runs
# again on the same tree (its own code changed, but not the sources, so
# do_unpack did not run), it first reverts what that list names.
#
# Bitzel's bb.fetch2 does this itself (bb.fetch2.apply_patches, in Rust:
# each patch tried with --dry-run first, so a failing one leaves the tree
# as it was); with plain BitBake, patch_with_patch_tool does it with the
# same list, so either can pick up a tree the other patched.

def src_patches(d):
    """The patches to apply as 'file striplevel patchdir' word triples,
    the file relative to UNPACKDIR."""
    import os
    words = []
    for url in (d.getVar('SRC_URI') or '').split():
        scheme, _, path, _, _, parm = bb.fetch2.decodeurl(url)
        name = os.path.basename(path)
        if 'apply' in parm:
            apply = bb.utils.to_boolean(parm['apply'])
        else:
            apply = name.endswith('.patch') or name.endswith('.diff')
        if not apply:
            continue
        # Where do_unpack put it: file:// keeps the path below the FILESPATH
        # entry it was found in, other schemes only the file name.
        relpath = path.lstrip('/') if scheme == 'file' else name
        words += [os.path.join(parm.get('subdir', ''), relpath),
                  parm.get('striplevel', '1'), parm.get('patchdir', '.')]
    return ' '.join(words)

patch_with_patch_tool() {
    if [ -f .applied-patches ]; then
        sed -n '1!G;h;$p' .applied-patches | while read -r file strip dir; do
            bbnote "Reverting $(basename "$file")"
            patch -R -p"$strip" -d "$dir" -i "${UNPACKDIR}/$file" --batch --no-backup-if-mismatch
        done
        rm .applied-patches
    fi
    set -- ${@src_patches(d)}
    while [ $# -ge 3 ]; do
        bbnote "Applying $(basename "$1")"
        patch -p"$2" -d "$3" -i "${UNPACKDIR}/$1" --batch --fuzz=0 --no-backup-if-mismatch
        echo "$1 $2 $3" >> .applied-patches
        shift 3
    done
}

do_patch[dirs] = "${S}"
python do_patch() {
    if hasattr(bb.fetch2, 'apply_patches'):
        try:
            bb.fetch2.apply_patches(d)
        except bb.fetch2.BBFetchException as e:
            bb.fatal("%s: %s" % (d.getVar('PN'), e))
    else:
        bb.build.exec_func('patch_with_patch_tool', d)
}
addtask patch after do_unpack
