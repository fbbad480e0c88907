X = "c"
DEPENDS = "  virtual/cc a   b ${X} "
DEPENDS:append = " d"
addtask x
do_x[depends] = "virtual/cc:do_populate_sysroot  zlib:do_a"
addtask y
