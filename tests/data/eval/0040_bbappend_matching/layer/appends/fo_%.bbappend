ORDER += "fo_%"
