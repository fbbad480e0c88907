C = "absolute path"
