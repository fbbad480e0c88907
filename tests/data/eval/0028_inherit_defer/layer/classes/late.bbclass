L = "late class"
