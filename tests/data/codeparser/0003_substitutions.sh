#### command substitutions
echo $(date) `hostname`
#### inside double quotes
echo "now: $(date), host: `hostname`"
#### nested
echo $(outer $(inner))
echo "$(dq_outer "$(dq_inner)")"
echo `bq_outer "\`not_read\`"`
#### inside assignments
VAL=$(getval) other
#### a command word holding a substitution is not a command
$(make_cmd) arg
"$(make_cmd2)" arg
pre$(make_cmd3) arg
#### and the word after it is skipped too
x=$(first) $(skipped) never
#### two substitutions in the command word
$(one)$(two) arg
#### not read inside parameter expansions single quotes or comments
echo ${X:-$(param_default)} '$(single)' # $(comment)
echo "${Y:-`param_bq`}"
#### not read in redirections here-documents or the case word
cat > $(outfile) <<EOF
$(heredoc_cmd)
EOF
case $(case_word) in
  *) inside ;;
esac
#### read in for lists and case patterns
for f in $(list_files); do use "$f"; done
case x in $(pattern_cmd)) matched ;; esac
#### a line continuation can build a substitution
echo "$\
(joined)"
