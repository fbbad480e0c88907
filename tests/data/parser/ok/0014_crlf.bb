A = "crlf"
B = "continued \
  value"
do_x() {
    echo crlf
}
C = "lone cr"D = "x"
