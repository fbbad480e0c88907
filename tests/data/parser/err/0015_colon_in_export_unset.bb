unset A:foo
export A:foo
export A # c
unset A # c
