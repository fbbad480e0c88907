"""bb.fetch2 for Bitzel: BitBake's fetcher API over the Rust fetcher
(`src/fetch/`, the native module `_bitzel_fetch`).

Python here is the API surface: it reads the settings from `d` (DL_DIR,
FILESPATH, PREMIRRORS, MIRRORS, BB_NO_NETWORK, SRC_URI checksum flags,
SRCREV, ...), passes them as plain values, and turns the Rust errors into
the exception classes below. URL parsing (`decodeurl`, `encodeurl`),
`file://` search, downloads (http(s) with checksums, git), unpacking and
patching are Rust. SRCREV resolution stays here: it reads the datastore."""

import os

import _bitzel_fetch

CHECKSUM_LIST = ["goh1", "md5", "sha256", "sha1", "sha384", "sha512"]
SHOWN_CHECKSUM_LIST = ["sha256"]


class BBFetchException(Exception):
    def __init__(self, message):
        self.msg = message
        Exception.__init__(self, message)

    def __str__(self):
        return self.msg


class MalformedUrl(BBFetchException):
    def __init__(self, url, message=""):
        msg = "cannot read the URL `%s`" % url
        if message:
            msg += " (%s)" % message
        BBFetchException.__init__(self, msg)
        self.url = url


class ParameterError(BBFetchException):
    def __init__(self, message, url):
        BBFetchException.__init__(self, "URL `%s`: bad parameters: %s" % (url, message))
        self.url = url


class NoMethodError(BBFetchException):
    def __init__(self, url):
        BBFetchException.__init__(self, "no fetcher handles the URL `%s`" % url)
        self.url = url


class MissingParameterError(BBFetchException):
    def __init__(self, missing, url):
        BBFetchException.__init__(self, "URL `%s` lacks the parameter `%s`" % (url, missing))
        self.url = url
        self.missing = missing


class FetchError(BBFetchException):
    def __init__(self, message, url=None):
        BBFetchException.__init__(self, "fetching `%s` failed: %s" % (url, message) if url else message)
        self.url = url


class ChecksumError(FetchError):
    """A download whose checksum is not the one SRC_URI expects."""


class NetworkAccess(FetchError):
    """A download that needs the network while BB_NO_NETWORK is set."""


class UnpackError(BBFetchException):
    def __init__(self, message, url):
        super().__init__("Unpack failure for URL: '%s'. %s" % (url, message))
        self.url = url


class PatchError(BBFetchException):
    """Bitzel: a patch of SRC_URI that does not apply."""


def _rust(function, *args, **kwargs):
    """Calls the Rust fetcher; its failures become the exception class
    they name, with the Rust message as it is."""
    try:
        return function(*args, **kwargs)
    except _bitzel_fetch.Failure as failure:
        class_name, message, subject = failure.args
        cls = globals().get(class_name, FetchError)
        error = cls.__new__(cls)
        BBFetchException.__init__(error, message)
        error.url = subject
        raise error from None


def decodeurl(url):
    """`scheme://[user[:password]@]host[:port]/path[;key=value...]` to
    (scheme, host, path, user, password, params) as BitBake decodes it."""
    return _rust(_bitzel_fetch.decodeurl, url)


def encodeurl(decoded):
    """(scheme, host, path, user, password, params) to the URL text."""
    scheme, host, path, user, pswd, params = decoded
    if not scheme:
        raise MissingParameterError("type", "encoded from the data %s" % str(decoded))
    return _rust(_bitzel_fetch.encodeurl, scheme, host or "", path or "", user or "", pswd or "",
                 list((params or {}).items()))


def mirror_from_string(data):
    """A PREMIRRORS/MIRRORS value as (pattern, replacement) pairs."""
    words = (data or "").replace("\\n", " ").split()
    return list(zip(*[iter(words)] * 2))


class URI:
    """A parsed URL with `scheme`, `hostname`, `path`, `params`."""

    def __init__(self, uri=None):
        self.scheme = ""
        self.userinfo = ""
        self.hostname = ""
        self.port = None
        self._path = ""
        self.params = {}
        self.query = {}
        self.relative = False
        if not uri:
            return
        scheme, host, path, user, pswd, params = decodeurl(uri)
        self.scheme = scheme
        self.hostname = host
        self._path = path
        self.userinfo = user + (":" + pswd if pswd else "")
        self.params = params

    @property
    def path(self):
        return self._path

    @path.setter
    def path(self, value):
        self._path = value

    def __str__(self):
        user, _, pswd = self.userinfo.partition(":")
        return encodeurl((self.scheme, self.hostname, self._path, user, pswd, self.params))


def fetcher_init(d):
    pass


def _config(d):
    """The fetch settings the Rust fetcher takes, from `d`."""
    pn = d.getVar("PN")
    allowed = (d.getVarFlag("BB_ALLOWED_NETWORKS", pn) if pn else None) or d.getVar("BB_ALLOWED_NETWORKS")
    return {
        "dl_dir": d.getVar("DL_DIR") or "",
        "filespath": d.getVar("FILESPATH") or "",
        "premirrors": d.getVar("PREMIRRORS") or "",
        "mirrors": d.getVar("MIRRORS") or "",
        "no_network": d.getVar("BB_NO_NETWORK") or "",
        "premirror_only": d.getVar("BB_FETCH_PREMIRRORONLY") or "",
        "strict_checksum": d.getVar("BB_STRICT_CHECKSUM") or "",
        "allowed_networks": allowed,
        "git_dir": d.getVar("GITDIR"),
        "git_default_destsuffix": d.getVar("BB_GIT_DEFAULT_DESTSUFFIX"),
        "tool_path": d.getVar("PATH"),
    }


def _checksum_flags(d):
    """The SRC_URI flags that hold checksums (`sha256sum`, `x.md5sum`)."""
    flags = d.getVarFlags("SRC_URI") or {}
    return {name: d.getVarFlag("SRC_URI", name) or "" for name in flags if name.endswith("sum")}


def _shared_download(ud, flags):
    """(URL, sha256) when `ud` is a download the build's download cache
    (a Remote Asset server, `bitzel build --remote-cache`) can hold: a
    network file with a SHA-256 checksum, which names its content."""
    if ud.type not in ("http", "https", "ftp"):
        return None
    name = ud.parm.get("name")
    expected = ud.parm.get("sha256sum") or flags.get("%s.sha256sum" % name if name else "sha256sum")
    if not expected:
        return None
    return ud.url.split(";")[0], expected


def _from_download_cache(url, expected, localpath):
    """Asks the download cache first: it is the build's own
    infrastructure, so it is asked even under BB_NO_NETWORK. What it gives
    goes to a temporary name and gets `localpath` only with the expected
    SHA-256 (the Rust fetcher then checks it again, as any file in
    DL_DIR)."""
    import _bitzel
    import hashlib
    os.makedirs(os.path.dirname(localpath), exist_ok=True)
    temp = "%s.bitzel-cache-%d" % (localpath, os.getpid())
    try:
        if _bitzel.download_cache_fetch(url, expected, temp):
            h = hashlib.sha256()
            with open(temp, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() == expected:
                os.rename(temp, localpath)
                return True
    except OSError:
        pass
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return False


def _report(warnings, notes):
    import bb
    for warning in warnings:
        bb.warn(warning)
    for note in notes:
        bb.note(note)


class Fetch:
    """BitBake's fetcher over a list of SRC_URI entries: localpath(),
    download() and unpack(), done by the Rust fetcher."""

    def __init__(self, urls, d, cache=True, localonly=False, connection_cache=None):
        if not urls:
            urls = (d.getVar("SRC_URI") or "").split()
        self.urls = urls
        self.d = d
        self.ud = {}
        for url in urls:
            self.ud[url] = FetchData(url, d)

    def _ud(self, url):
        if url not in self.ud:
            self.ud[url] = FetchData(url, self.d)
        return self.ud[url]

    def localpath(self, url):
        ud = self._ud(url)
        ud.setup_localpath(self.d)
        return ud.localpath

    def localpaths(self):
        return [self.localpath(u) for u in self.urls]

    def download(self, urls=None):
        """Brings every URL into DL_DIR (file:// entries are checked to
        exist): PREMIRRORS, the URL, then MIRRORS; checksums verified
        before a download gets its final name."""
        config = _config(self.d)
        flags = _checksum_flags(self.d)
        for url in urls or self.urls:
            ud = self._ud(url)
            shared = _shared_download(ud, flags)
            if shared:
                ud.setup_localpath(self.d)
                existed = os.path.exists(ud.localpath)
                if not existed:
                    _from_download_cache(shared[0], shared[1], ud.localpath)
            localpath, warnings, notes = _rust(_bitzel_fetch.download, ud.url, config, flags,
                                               ud.revision(self.d))
            ud.localpath = localpath
            _report(warnings, notes)
            if shared and not existed:
                import _bitzel
                _bitzel.download_cache_push(shared[0], shared[1], localpath)

    def unpack(self, root, urls=None, update=False):
        """Unpacks every URL into `root` (UNPACKDIR): archives extracted
        (subdir=, striplevel=), other files copied, git checked out."""
        config = _config(self.d)
        for url in urls or self.urls:
            ud = self._ud(url)
            warnings, notes = _rust(_bitzel_fetch.unpack, ud.url, config, root, ud.revision(self.d))
            _report(warnings, notes)

    def expanded_urldata(self, urls=None):
        return [self._ud(u) for u in (urls or self.urls)]


class FetchData:
    def __init__(self, url, d, localonly=False):
        self.url = d.expand(url)
        self.type, self.host, self.path, self.user, self.pswd, self.parm = decodeurl(self.url)
        self.localfile = self.parm.get("downloadfilename", self.path.split("/")[-1] if self.path else "")
        self.localpath = None
        self.method = None
        self.names = self.parm.get("name", "default").split(",")
        self.name = self.parm.get("name", "default")
        self.basename = self.localfile

    def revision(self, d):
        """SRCREV for SCM URLs, None for others."""
        if self.type not in _SRCREV_SCHEMES:
            return None
        return str(_srcrev_for(self, d, self.name))

    def setup_localpath(self, d):
        """Where the fetched file is: for `file://`, the FILESPATH match (or
        the last place searched); for git, the mirror clone; otherwise
        DL_DIR/name."""
        if self.localpath:
            return
        revision = None
        if self.type in _SRCREV_SCHEMES and "rebaseable" in self.parm:
            revision = self.revision(d)
        self.localpath = _rust(_bitzel_fetch.localpath, self.url, _config(d), revision)


def apply_patches(d, urls=None):
    """Bitzel: applies the patches of SRC_URI (names ending in .patch or
    .diff, or apply=yes) to S in SRC_URI order, with striplevel= (default
    1) and patchdir= (relative to S); patches an earlier run applied (the
    list S/.applied-patches) are reverted first. Returns patch's output.
    Not in BitBake: classes test for it with hasattr."""
    urls = urls or (d.getVar("SRC_URI") or "").split()
    log = _rust(_bitzel_fetch.apply_patches, urls, d.getVar("S"), d.getVar("UNPACKDIR"),
                d.getVar("PATH"))
    _report([], log)
    return log


def mark_recipe_nocache(d):
    if d.getVar("BB_SRCREV_POLICY") != "cache":
        d.setVar("BB_DONT_CACHE", "1")


def get_autorev(d):
    mark_recipe_nocache(d)
    d.setVar("__BBAUTOREV_SEEN", True)
    return "AUTOINC"


# URL schemes whose fetchers take a source revision (SRCREV).
_SRCREV_SCHEMES = {"git", "gitsm", "gitannex", "hg", "svn", "p4", "ccrc"}


def _srcrev_for(ud, d, name):
    """The revision of one SCM URL: SRCREV_name:pn-PN, SRCREV_name,
    SRCREV:pn-PN, SRCREV, or the URL's rev/tag parameter."""
    pn = d.getVar("PN")
    attempts = []
    if name != "" and pn:
        attempts.append("SRCREV_%s:pn-%s" % (name, pn))
    if name != "":
        attempts.append("SRCREV_%s" % name)
    if pn:
        attempts.append("SRCREV:pn-%s" % pn)
    attempts.append("SRCREV")
    srcrev = None
    for attempt in attempts:
        srcrev = d.getVar(attempt)
        if srcrev and srcrev != "INVALID":
            break
    if "rev" in ud.parm:
        wanted = ud.parm["rev"]
        if srcrev == "INVALID" or not srcrev:
            return wanted
        if srcrev != wanted:
            raise FetchError("Conflicting revisions (%s from SRCREV and %s from the url) found, "
                             "please specify one valid value" % (srcrev, wanted))
        return wanted
    if "tag" in ud.parm and (srcrev == "INVALID" or not srcrev):
        return ud.parm["tag"]
    if srcrev == "INVALID" or not srcrev:
        raise FetchError("Please set a valid SRCREV for url %s (possible key names are %s, "
                         "or use a ;rev=X URL parameter)" % (str(attempts), ud.url), ud.url)
    if srcrev == "AUTOINC":
        # Resolving it needs the network; parse-time code sees the marker.
        d.setVar("__BBAUTOREV_ACTED_UPON", True)
    return srcrev


def _get_srcrev(d, method_name="sortable_revision"):
    """(PKGV string, [revisions]) of the SCM URLs in SRC_URI."""
    scms = []
    for url in (d.getVar("SRC_URI") or "").split():
        ud = FetchData(url, d)
        if ud.type in _SRCREV_SCHEMES:
            scms.append(ud)
    if not scms:
        return "", []
    revs = []
    if len(scms) == 1:
        rev = str(_srcrev_for(scms[0], d, scms[0].name))
        revs.append(rev)
        return "AUTOINC+" + rev[:10], revs
    fmt = d.getVar("SRCREV_FORMAT")
    if not fmt:
        raise FetchError("The SRCREV_FORMAT variable must be set when multiple SCMs are used.\n"
                         "The SCMs are:\n%s" % "\n".join(ud.url for ud in scms))
    import re
    name_to_rev = {}
    for ud in scms:
        rev = str(_srcrev_for(ud, d, ud.name))
        revs.append(rev)
        name_to_rev[ud.name] = rev[:10]
    names = sorted(name_to_rev, key=len, reverse=True)
    pattern = "|".join(re.escape(n) for n in names)
    fmt = re.sub(pattern, lambda m: name_to_rev[m.group(0)], fmt)
    return "AUTOINC+" + fmt, revs


def get_srcrev(d, method_name="sortable_revision"):
    pkgv, revs = _get_srcrev(d, method_name)
    if not pkgv:
        raise FetchError("SRCREV was used yet no valid SCM was found in SRC_URI")
    return pkgv


def get_hashvalue(d, method_name="sortable_revision"):
    pkgv, revs = _get_srcrev(d, method_name)
    return " ".join(revs)


def get_pkgv_string(d, method_name="sortable_revision"):
    pkgv, revs = _get_srcrev(d, method_name)
    return pkgv


def get_checksum_file_list(d):
    """Every place searched for each local (file://) SRC_URI entry, as
    `path:True|False` (whether it exists there), for [file-checksums]."""
    import bb
    entries = []
    filespath = d.getVar("FILESPATH") or ""
    for url in (d.getVar("SRC_URI") or "").split():
        ud = FetchData(url, d)
        if ud.type != "file":
            continue
        if not ud.path.startswith("/") and not filespath:
            searched = []
        else:
            found, searched = _bitzel_fetch.local_search(ud.path, filespath)
        exists = False
        for candidate in searched:
            here = os.path.exists(candidate)
            exists = exists or here
            entries.append(candidate + ":" + str(here))
        if not exists:
            bb.fatal("Unable to get checksum for %s SRC_URI entry %s: file could not be found"
                     "\nThe following paths were searched:\n%s"
                     % (d.getVar("PN"), os.path.basename(ud.path), "\n".join(searched)))
    return " ".join(entries)


def localpath(url, d):
    return Fetch([url], d).localpath(url)
