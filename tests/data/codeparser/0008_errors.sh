#### arithmetic expansion
echo $((1 + 2))
#### arithmetic expansion inside double quotes
echo "$((3 * 4))"
#### arithmetic expansion made by a line continuation
echo "$(\
(1))"
#### reserved words that cannot be arguments
echo }
#### else as an argument
echo else
#### case as an argument
echo case
#### in after for is reserved wherever for appears
echo for x in y
#### a closing parenthesis inside a substitution ends it
echo $(a (b))
#### unterminated single quote
echo 'open
#### unterminated double quote
echo "open
#### unterminated backquote
echo `open
#### unterminated substitution
echo $(open
#### unterminated parameter expansion
echo ${open
#### a comment at the very end without a newline [no final newline]
cmd # comment
#### a dollar at the very end [no final newline]
echo $
#### a backslash at the very end [no final newline]
echo \
#### an empty here-document
cat <<EOF
EOF
#### a here-document operator on the last line
cat <<EOF
#### a here-document operator at the very end [no final newline]
cat <<EOF
#### a here-document without a delimiter word
cat << ;
#### a command list ending with &
{ background & }
#### a loop body ending with &
while true; do job &
done
#### a function body with redirections
fn() { body; } > log
#### for without in
for x; do y; done
#### in on the line after for
for x
in a; do y; done
#### negation twice
! ! cmd
#### double semicolon outside case
a ;; b
#### a function name followed by a plain command
f() cmd
#### pipe and ampersand
echo |& cat
#### then without if
then
#### an error inside a substitution
echo $(if)
#### an error inside eval
eval then fi
