A = "a"
inherit nonexistent
