A = "1"
B = unquoted
C = "3"
  D = "4"
do_x() {
    ok
}
E = "5" # comment
inherit foo
F = "6"
