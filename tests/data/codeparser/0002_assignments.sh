#### assignments before a command are skipped
FOO=bar cmd arg
A=1 B="two words" run
#### an assignment alone runs nothing
FOO=bar
X="$Y"
#### any first word containing = is skipped
--opt=value tool
a==b checker
#### a word with = later is an argument
echo a=b
#### at the very end of the code an assignment is a real one [no final newline]
X=$(cmd)
#### redirections before the command
> out first arg
2>/dev/null second
