export A = "1"
export B
export	C ?= "tab after export"
unset D
unset E[ff]
unset F[doc.x@y]
exportD = "an assignment to exportD"
inherited = "i"
includes = "n"
unsetting = "u"
