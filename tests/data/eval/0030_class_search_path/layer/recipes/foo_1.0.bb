inherit foo bar
inherit ${TOPDIR}/layer/elsewhere/odd.bbclass
