CLS = "one"
ORDER = "start "
inherit ${CLS}
CLS = "other"
A = "recipe"
inherit two one
inherit ${@''}
HAS_ONE = "${@bb.data.inherits_class('one', d)}"
HAS_OTHER = "${@bb.data.inherits_class('other', d)}"
