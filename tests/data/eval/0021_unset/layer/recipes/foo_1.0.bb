A = "x"
A:append = "y"
A[doc] = "gone"
unset A
B = "x"
B:append = "y"
unset B
B = "z"
C = "x"
C:a = "y"
unset C
W ??= "weak"
unset W
