A = "${@evalhelp.text.shout(d.getVar('PN'))}"
B = "${@sys.maxsize > 0}"
