A = "a"b"
B = "a\"b"
