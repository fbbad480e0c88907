BBCLASSEXTEND = "native"
ONLY_NATIVE = "1"
ONLY_NATIVE:class-native = ""
python () {
    if d.getVar("ONLY_NATIVE") == "1":
        raise bb.parse.SkipRecipe("only the native variant is supported")
}
A = "a"
