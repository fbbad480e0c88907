ORDER .= "other "
