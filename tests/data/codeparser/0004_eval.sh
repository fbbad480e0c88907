#### eval reads its words again as shell
eval helper arg
#### quotes stay part of the words
eval "helper arg"
#### eval of a substitution
eval $(generate)
#### eval alone
eval
#### after assignments
FOO=1 eval inner arg
#### eval of a local function
local_fn() { :; }
eval local_fn
