def helper_twice(s):
    return s + s
