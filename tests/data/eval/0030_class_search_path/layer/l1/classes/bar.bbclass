B = "l1-classes"
