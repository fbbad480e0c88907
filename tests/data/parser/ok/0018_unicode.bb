SUMMARY = "Ünïcödé — “quotes” and emoji 🚀"
do_x() {
    echo "日本語"
}
