A = "l1-classes"
