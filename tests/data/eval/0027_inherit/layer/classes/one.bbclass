A = "class one"
B = "class one"
ORDER .= "one "
CLASSFILE := "${FILE}"
inherit two
