require common.inc
require inc/deep.inc
include twice.inc
include twice.inc
AFTER := "${FILE}"
