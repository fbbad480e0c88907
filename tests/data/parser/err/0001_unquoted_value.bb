A = abc
