HAS_G2 = "${@bb.data.inherits_class('g2', d)}"
HAS_BASE = "${@bb.data.inherits_class('base', d)}"
