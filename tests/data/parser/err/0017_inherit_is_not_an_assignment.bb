inherit = "x"
inherit foo # c
