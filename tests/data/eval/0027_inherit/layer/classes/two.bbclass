ORDER .= "two "
