require ping.inc
