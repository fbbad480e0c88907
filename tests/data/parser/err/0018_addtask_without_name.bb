addtask
addtask #c
