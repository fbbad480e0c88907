ORDER = "recipe"
EXTRA = "base"
