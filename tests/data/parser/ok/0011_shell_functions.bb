do_compile() {
    oe_runmake
	echo "tab indented \
still the same line for the shell"
    # a shell comment, kept verbatim
    cat <<EOT
    }
EOT
 }
}
do_install () {
}
do_install:append() {
    install -d ${D}${bindir}
}
${PN}_helper() {
    :
}
do_x:prepend:class-native(){
    echo native
}
 () {
    pass
}
