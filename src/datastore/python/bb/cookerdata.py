"""bb.cookerdata for Bitzel: the configuration is parsed in Rust."""
