#### functions defined in the code are not commands
helper() {
    inner_cmd
}
helper
#### even when defined after use
late_fn
late_fn() { body_cmd; }
#### function bodies of every compound kind
sub_fn() (sub_body)
if_fn() if a; then b; fi
#### a function defined in a substitution hides the name everywhere
echo $(hidden() { :; })
hidden
#### a word followed by ( is a function definition
name () { x; }
