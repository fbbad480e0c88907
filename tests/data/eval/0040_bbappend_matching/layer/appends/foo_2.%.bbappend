ORDER += "foo_2.%"
