A = "1"
  B = "indented"
