#### calls by dotted name
bb.note("hello")
oe.path.make_relative_symlink(a)
helper(d)
os.path.join(a, b)
len(x)
#### exec_func and exec_task with a literal name
bb.build.exec_func("do_helper", d)
bb.build.exec_task("do_other", "do_other", d)
#### with a non-literal name
bb.build.exec_func(func, d)
#### calls whose callee is not a name are not named
"-".join(parts)
get_handler()(d)
handlers[0](d)
(lambda x: x)(1)
#### calls inside nested functions comprehensions and decorators
def outer(d):
    def inner():
        return nested_call(d.getVar("NESTED"))
    return [item_call(i) for i in inner()]

@bb.parse.vardeps("DECO")
def decorated(d):
    pass
