+= "x"
export = "1"
