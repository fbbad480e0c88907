CLASSOVERRIDE = "class-native"
WHO = "native class"
