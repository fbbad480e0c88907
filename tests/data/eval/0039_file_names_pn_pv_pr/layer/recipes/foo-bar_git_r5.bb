require part.inc
inherit where
