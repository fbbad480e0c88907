include foo.txt
include foo.inc # note
require a.bbappend
