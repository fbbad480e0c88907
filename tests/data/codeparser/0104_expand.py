#### literal strings given to expand
d.expand("${S}/${BPN}")
localdata.expand('${@d.getVar("INNER")}')
#### a non-literal string is not followed
d.expand(path)
d.expand("${A}" + suffix)
#### bb.data.expand ends in .expand too
bb.data.expand("${VIA_DATA}", d)
