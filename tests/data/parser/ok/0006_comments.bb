# A comment.
#A comment without a space.
# A comment that continues \
# onto a second comment line.

#
A = "x # not a comment"
