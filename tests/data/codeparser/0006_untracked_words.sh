#### words starting with $ are not followed
$CMD arg
${TOOL} arg
$1 arg
#### quoted and escaped command words are kept as written
"quoted" arg
'single' arg
\escaped arg
"$CMD" arg
#### a line continuation inside a word joins it
jo\
ined arg
