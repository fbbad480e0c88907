include foo.inc
require recipes-core/bar/bar.inc
include_all conf/distro/include/x.inc
include a.inc b.conf
include ${@bb.utils.contains('PACKAGECONFIG', 'perl', 'perf-perl.inc', '', d)}
require ${@"conf/multiconfig/${BB_CURRENT_MC}.conf" if "${BB_CURRENT_MC}" != "" else ""}
require	tab.inc
