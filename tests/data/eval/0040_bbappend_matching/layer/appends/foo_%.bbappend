ORDER += "foo_%"
EXTRA:prepend := "${THISDIR}/files:"
