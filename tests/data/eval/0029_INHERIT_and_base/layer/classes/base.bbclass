X = "base"
ORDER .= "base "
