ORDER += "foo_1.1"
