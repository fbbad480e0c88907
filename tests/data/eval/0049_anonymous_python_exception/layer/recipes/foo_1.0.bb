A = "a"
python () {
    x = 1
    raise ValueError("deliberate failure %d" % x)
}
