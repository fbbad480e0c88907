A = "abc'
