BBCLASSEXTEND = "native multi:lib32"
