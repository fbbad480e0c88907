ORDER += "foo_%.9"
