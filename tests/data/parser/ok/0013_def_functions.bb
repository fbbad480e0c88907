def get_name(d):
    return "x" + d.getVar("PN")

    # still part of the function, as is the blank line above

def second(a, b):
	return a + b
A = "${@get_name(d)}"
def last_in_file(d): return 1
