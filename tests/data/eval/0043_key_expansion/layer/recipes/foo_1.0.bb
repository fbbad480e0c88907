K1 = "k"
K2 = "k"
N_${K1} = "first"
N_${K2} = "second"
SUMMARY = "S"
SUMMARY:${PN}-doc = "${SUMMARY} docs"
FN = "hello"
do_${FN}() {
    echo hi
}
M_${K1} = "m"
M_${K1}:append = "+queued"
M_${K1}[doc] = "lost"
