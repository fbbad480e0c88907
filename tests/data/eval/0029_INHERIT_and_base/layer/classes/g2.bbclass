X = "g2"
ORDER .= "g2"
