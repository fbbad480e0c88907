BBIMPORTS = ["text"]
