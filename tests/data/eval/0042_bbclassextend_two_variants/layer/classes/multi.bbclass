CLASSOVERRIDE = "class-multi"
PN = "${BBEXTENDVARIANT}-${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0]}"
WHO = "multi class"
