#### if elif else
if test1; then
    then_cmd
elif test2; then
    elif_cmd
else
    else_cmd
fi
#### loops
while cond1; do body1; done
until cond2; do body2; done
for i in a b c; do body3 "$i"; done
for j in; do never; done
#### case
case "$x" in
    a|b) ab_cmd ;;
    (c) c_cmd
        ;;
    *)
        default_cmd
esac
case y in esac
#### redirections after compound commands
{ grouped; } > out 2>&1
while read line; do loop_body; done < input
#### top-level commands may follow each other without a separator
echo a (sub_cmd)
{ group_cmd; } after_group
if c; then t; fi after_if
#### here-documents
cat <<EOF; next_cmd
$(not_read) `not_read`
EOF
tool <<'QUOTED' | consumer
text
QUOTED
tabs <<-END
	indented
	END
two <<A <<B; after_two
a
A
b
B
#### a here-document that runs to the end of the code
cat <<EOF
unterminated body
