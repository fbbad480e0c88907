L = " \
    one \
#   a note \
    two \
"
