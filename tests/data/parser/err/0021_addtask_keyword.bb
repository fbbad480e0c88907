addtask do_foo:append_x after do_bar
