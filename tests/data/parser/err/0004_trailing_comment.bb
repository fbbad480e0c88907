A = "x" # c
