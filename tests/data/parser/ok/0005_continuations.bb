FOO = "bar \
       baz"
BAR = "bar\
baz"
SPACES = "a \   
  b"
SRC_URI = "\
    file://one.patch \
    file://two.patch \
"
LONG\
NAME = "joined name"
EMPTY = "x \
\
y"
