GREETING:append = "!"
