PICKED += "one"
