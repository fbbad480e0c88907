include_all conf/x.inc
include_all recipes/only-here.inc
