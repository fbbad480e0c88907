addtask fetch
addtask build
addtask report after do_fetch before do_build
addtask a
addtask b after a
addtask c after do_b
deltask ${DEL}
DEL = "b"
deltask ${DEL}
addtask ${T1}
T1 = "late"
addtask ${T2}
T2 = "do_other"
addtask x after do_nonexistent
