"""bb.siggen for Bitzel: the signature generator classes metadata
subclasses at import time. Bitzel computes signatures in Rust (issue #4);
these classes only have to exist and be subclassable."""


class SignatureGenerator:
    name = "noop"

    def __init__(self, data):
        self.basehash = {}
        self.taskhash = {}
        self.unihash = {}
        self.runtaskdeps = {}
        self.file_checksum_values = {}
        self.taints = {}

    def finalise(self, fn, d, variant):
        return

    def dump_sigs(self, dataCache, options):
        return

    def dump_sigtask(self, fn, task, stampbase, runtime):
        return


class SignatureGeneratorBasic(SignatureGenerator):
    name = "basic"


class SignatureGeneratorBasicHash(SignatureGeneratorBasic):
    name = "basichash"


class SignatureGeneratorUniHashMixIn:
    pass


def find_siginfo(pn, taskname, taskhashlist, d):
    return {}


find_siginfo_version = 1
