A_append = "x"
FOO_removed = "1"
do_install_append() {
    :
}
__anon_ok_append = "fine"
B_append[doc] = "flags are not checked"
