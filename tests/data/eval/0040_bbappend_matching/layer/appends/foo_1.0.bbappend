ORDER += "foo_1.0"
