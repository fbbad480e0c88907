A = "1"
do_x() {
    echo
 }
	B = "2"
