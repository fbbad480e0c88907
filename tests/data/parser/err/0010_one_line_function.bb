do_foo() { echo hi }
