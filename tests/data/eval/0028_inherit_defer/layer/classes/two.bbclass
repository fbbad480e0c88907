PICKED += "two"
A = "class two"
