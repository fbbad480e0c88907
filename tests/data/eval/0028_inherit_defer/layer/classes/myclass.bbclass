MY = "myclass inherited"
