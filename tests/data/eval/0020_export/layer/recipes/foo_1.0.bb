export A = "1"
export B
B = "2"
C = "3"
export C
export E
U = "u"
U[unexport] = "1"
