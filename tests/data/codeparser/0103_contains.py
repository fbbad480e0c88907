#### contains tests are not references
bb.utils.contains("DISTRO_FEATURES", "systemd", "a", "b", d)
bb.utils.contains("DISTRO_FEATURES", "x11 wayland", "a", "b", d)
base_contains("MACHINE_FEATURES", "usbhost", "a", "b", d)
#### contains_any and filter test each word
bb.utils.contains_any("DISTRO_FEATURES", "opengl vulkan", "a", "b", d)
bb.utils.filter("PACKAGECONFIG", "foo bar", d)
#### the same variable collects every test
bb.utils.contains("DISTRO_FEATURES", "pam", "a", "b", d)
bb.utils.contains_any("DISTRO_FEATURES", "acl xattr", "a", "b", d)
#### a non-literal item makes the variable a reference
bb.utils.contains("DISTRO_FEATURES", feature, "a", "b", d)
bb.utils.filter("PACKAGECONFIG", wanted, d)
#### a non-literal variable is not followed
bb.utils.contains(var, "x", "a", "b", d)
#### only these exact names
utils.contains("NOT_A_TEST", "x", "a", "b", d)
oe.utils.contains("NOT_A_TEST_EITHER", "x", "a", "b", d)
