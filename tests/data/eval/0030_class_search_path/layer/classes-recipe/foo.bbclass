A = "root-classes-recipe"
