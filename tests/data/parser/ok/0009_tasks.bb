addtask fetch
addtask do_configure after do_patch before do_compile
addtask report after do_fetch before do_build # a trailing comment
addtask mytask# comment without a space
addtask a before x after b before y after c
addtask ${T}
deltask do_package_qa
deltask configure compile # gone
addhandler my_handler other_handler
