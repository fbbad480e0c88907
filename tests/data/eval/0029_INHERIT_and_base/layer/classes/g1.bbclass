X = "g1 from classes"
ORDER .= "g1-classes "
