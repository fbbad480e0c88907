#### first word of each command
echo hello world
cp -a src dst
#### lists pipelines and negation
a && b || c; d & e
f | g |h
! i | j
#### reserved words after the first word are arguments
echo done if then fi for do until !
#### subshells and groups
(a; b) | c
{ d; e; }
#### a closing brace ends a command inside a group
{ echo }
#### newlines and line continuations
first \
  --flag
second\
word arg

third
#### comments
# a comment line
cmd # trailing comment
cmd2#not-a-comment
#### empty code
#### only comments and blank lines

# nothing here
#### operators without spaces
a>out;b<in&c|d&&e||f
