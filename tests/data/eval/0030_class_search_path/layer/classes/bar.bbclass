B = "root-classes"
