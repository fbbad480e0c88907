#### an indented function body
    if d.getVar("BODY"):
        body_call(d)
#### a body indented with tabs
	tab_call(d.getVar("TAB"))
#### a body starting with blank lines
 
    after_blank(d)
#### a def function
def get_thing(d):
    return d.getVar("THING")
#### an inline expression
d.getVar('INLINE') or ''
#### an inline expression with leading spaces
 oe.utils.conditional('X', '1', 'a', 'b', d)
#### whitespace only
   
