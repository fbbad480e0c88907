X = "g1"
ORDER .= "g1 "
