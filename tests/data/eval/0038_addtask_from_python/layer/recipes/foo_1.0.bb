addtask build
python () {
    bb.build.addtask("do_dyn", "do_build", None, d)
}
