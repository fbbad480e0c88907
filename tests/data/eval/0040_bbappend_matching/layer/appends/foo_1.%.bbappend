ORDER += "foo_1.%"
