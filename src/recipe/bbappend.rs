//! Which `.bbappend` files apply to a recipe (spec §15.2).

/// Whether the append named `append` (a file name ending in `.bbappend`)
/// applies to the recipe file named `recipe` (ending in `.bb`): the
/// append's name with `.bb` for `.bbappend` equals the recipe's, or holds a
/// `%` and its part before the first `%` is a prefix of the recipe's name.
pub fn applies(recipe: &str, append: &str) -> bool {
    let Some(stem) = append.strip_suffix(".bbappend") else {
        return false;
    };
    let as_recipe = format!("{stem}.bb");
    if as_recipe == recipe {
        return true;
    }
    match as_recipe.find('%') {
        Some(idx) => recipe.starts_with(&as_recipe[..idx]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::applies;

    #[test]
    fn wildcard_matching() {
        // spec §15.2's table.
        for (append, expected) in [
            ("foo_1.0.bbappend", true),
            ("foo_%.bbappend", true),
            ("foo_1.%.bbappend", true),
            ("foo_2.%.bbappend", false),
            ("foo_%.9.bbappend", true),
            ("foo%.bbappend", true),
            ("fo_%.bbappend", false),
            ("foo_1.1.bbappend", false),
        ] {
            assert_eq!(applies("foo_1.0.bb", append), expected, "{append}");
        }
        assert!(applies("mesa.bb", "mesa.bbappend"));
        assert!(applies("mesa.bb", "mesa%.bbappend"));
        assert!(!applies("mesa.bb", "mesa_%.bbappend"));
    }
}
