"""bb.fetch2 for Bitzel: URL parsing of SRC_URI entries, as the metadata
uses it while parsing. Downloading is the executor's job (issue #5)."""

import os
import re
import urllib.parse


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


class NoMethodError(BBFetchException):
    def __init__(self, url):
        BBFetchException.__init__(self, "no fetcher handles the URL `%s`" % url)


class FetchError(BBFetchException):
    def __init__(self, message, url=None):
        BBFetchException.__init__(self, "fetching `%s` failed: %s" % (url, message) if url else message)


class UnpackError(BBFetchException):
    def __init__(self, message, url):
        super().__init__("Unpack failure for URL: '%s'. %s" % (url, message))


def decodeurl(url):
    """`scheme://[user[:password]@]location[;key=value...]` to
    (scheme, host, path, user, password, params). For `file://` the whole
    location is the path; otherwise the host runs up to the first `/`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise MalformedUrl(url)
    location, _, params_text = rest.partition(";")
    user = ""
    pswd = ""
    at = location.find("@")
    if at > 0 and "/" not in location[:at]:
        user, _, pswd = location[:at].partition(":")
        location = location[at + 1:]
    if not location:
        raise MalformedUrl(url)
    if scheme.lower() == "file":
        # `file://name@.service`: an `@` is part of a local file's name.
        host, path = "", location
        if user:
            path = user + (":" + pswd if pswd else "") + "@" + path
            user = pswd = ""
    elif "/" in location:
        slash = location.index("/")
        host, path = location[:slash], location[slash:]
    else:
        host, path = location, "/"
    params = {}
    for item in params_text.split(";") if params_text else []:
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise MalformedUrl(url, "parameter `%s` has no value (no `=`)" % item)
        params[key] = value
    return scheme, host, urllib.parse.unquote(path), user, pswd, params


def encodeurl(decoded):
    scheme, host, path, user, pswd, params = decoded
    if not scheme:
        raise MissingParameterError("type", "encoded from the data %s" % str(decoded))
    url = ["%s://" % scheme]
    if user and scheme != "file":
        url.append(user)
        if pswd:
            url.append(":%s" % pswd)
        url.append("@")
    if host and scheme != "file":
        url.append(host)
    if path:
        url.append(urllib.parse.quote(path, safe="/:~+@"))
    for key in params:
        url.append(";%s=%s" % (key, params[key]))
    return "".join(url)


class MissingParameterError(BBFetchException):
    def __init__(self, missing, url):
        BBFetchException.__init__(self, "URL `%s` lacks the parameter `%s`" % (url, missing))


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


class Fetch:
    """Parses SRC_URI entries; download() and unpack() arrive with the
    executor."""

    def __init__(self, urls, d, cache=True, localonly=False, connection_cache=None):
        if not urls:
            urls = (d.getVar("SRC_URI") or "").split()
        self.urls = urls
        self.d = d
        self.ud = {}
        for url in urls:
            self.ud[url] = FetchData(url, d)

    def localpath(self, url):
        if url not in self.ud:
            self.ud[url] = FetchData(url, self.d)
        self.ud[url].setup_localpath(self.d)
        return self.ud[url].localpath

    def localpaths(self):
        return [self.localpath(u) for u in self.urls]

    def download(self, urls=None):
        """Brings every URL's file into DL_DIR (file:// entries are used
        where they are): http(s) with SRC_URI[sha256sum] checked, written
        under a temporary name and renamed only when complete and right."""
        for url in urls or self.urls:
            ud = self.ud.get(url) or FetchData(url, self.d)
            self.ud[url] = ud
            ud.setup_localpath(self.d)
            if ud.type == "file":
                if not os.path.exists(ud.localpath):
                    raise FetchError("file %s not found (searched FILESPATH)" % ud.path, url)
                continue
            if ud.type not in ("http", "https"):
                raise FetchError("Bitzel fetches file://, http:// and https:// URLs; not %s" % ud.type, url)
            _download_http(ud, self.d)

    def unpack(self, root, urls=None):
        """Unpacks every URL into `root`: archives (tar with gz, bz2, xz or
        zst; zip) extracted, other files copied, honouring subdir= and
        striplevel=; patches are left to do_patch but copied too."""
        for url in urls or self.urls:
            ud = self.ud.get(url) or FetchData(url, self.d)
            self.ud[url] = ud
            ud.setup_localpath(self.d)
            _unpack(ud, root)

    def expanded_urldata(self, urls=None):
        return [self.ud[u] for u in (urls or self.urls)]


class FetchData:
    def __init__(self, url, d, localonly=False):
        self.url = url
        self.type, self.host, self.path, self.user, self.pswd, self.parm = decodeurl(d.expand(url))
        self.localfile = self.parm.get("downloadfilename", self.path.split("/")[-1] if self.path else "")
        self.localpath = None
        self.method = None
        self.names = self.parm.get("name", "default").split(",")
        self.name = self.parm.get("name", "default")
        self.basename = self.localfile

    def setup_localpath(self, d):
        """Where the fetched file is: for `file://`, the FILESPATH match (or
        the last place searched); otherwise under DL_DIR."""
        import os
        import bb.utils
        if self.localpath:
            return
        if self.type == "file":
            if self.path.startswith("/"):
                self.localpath = self.path
                return
            found, tried = bb.utils.which(d.getVar("FILESPATH") or "", self.path, history=True)
            self.localpath = tried[-1] if tried else self.path
        else:
            self.localpath = os.path.join(d.getVar("DL_DIR") or "", self.localfile)


def _expected_sha256(ud, d):
    name = ud.parm.get("name")
    flag = "%s.sha256sum" % name if name else "sha256sum"
    return d.getVarFlag("SRC_URI", flag)


def _sha256_of(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_http(ud, d):
    import urllib.request
    expected = _expected_sha256(ud, d)
    if not expected:
        raise FetchError("no SRC_URI[sha256sum] for %s: Bitzel requires a checksum for network "
                         "downloads" % ud.url, ud.url)
    if os.path.exists(ud.localpath) and _sha256_of(ud.localpath) == expected:
        return
    os.makedirs(os.path.dirname(ud.localpath), exist_ok=True)
    temp = "%s.tmp.%d" % (ud.localpath, os.getpid())
    url = ud.url.split(";")[0]
    # The build's download cache (a Remote Asset server, bitzel build
    # --remote-cache) first: it is the build's own infrastructure, so it
    # is asked even under BB_NO_NETWORK. What it gives is checked as a
    # download is.
    if _from_download_cache(url, expected, temp):
        os.rename(temp, ud.localpath)
        return
    if (d.getVar("BB_NO_NETWORK") or "0") == "1":
        raise FetchError("BB_NO_NETWORK is set and %s is not in DL_DIR" % ud.url, ud.url)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(temp, "wb") as out:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                out.write(block)
        got = _sha256_of(temp)
        if got != expected:
            raise FetchError("checksum mismatch for %s: SRC_URI[sha256sum] is %s, the download's "
                             "sha256 is %s" % (url, expected, got), ud.url)
        os.rename(temp, ud.localpath)
        import _bitzel
        _bitzel.download_cache_push(url, expected, ud.localpath)
    except OSError as e:
        raise FetchError("downloading %s failed: %s" % (url, e), ud.url)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _from_download_cache(url, expected, temp):
    """True when the download cache wrote `temp` with the expected
    checksum; anything else it left there is removed."""
    import _bitzel
    try:
        if _bitzel.download_cache_fetch(url, expected, temp) and _sha256_of(temp) == expected:
            return True
    except OSError:
        pass
    if os.path.exists(temp):
        os.unlink(temp)
    return False


def _unpack(ud, root):
    import shutil
    import tarfile
    import zipfile
    dest = os.path.join(root, ud.parm.get("subdir", ""))
    os.makedirs(dest, exist_ok=True)
    path = ud.localpath
    strip = int(ud.parm.get("striplevel", "0") or 0)
    archive = ud.parm.get("unpack", "1") != "0"
    lower = path.lower()
    if os.path.isdir(path):
        target = os.path.join(dest, os.path.basename(ud.path.rstrip("/")))
        shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
        return
    if archive and any(lower.endswith(ext) for ext in (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2",
                                                        ".tar.xz", ".txz", ".tar.zst")):
        if lower.endswith(".tar.zst"):
            import subprocess
            data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
            import io
            tar = tarfile.open(fileobj=io.BytesIO(data))
        else:
            tar = tarfile.open(path)
        with tar:
            members = []
            for m in tar.getmembers():
                parts = m.name.split("/")
                if strip:
                    if len(parts) <= strip:
                        continue
                    m.name = "/".join(parts[strip:])
                members.append(m)
            for m in members:
                # What the "tar" extraction filter refuses, for Pythons
                # without it: names leaving the destination.
                if m.name.startswith("/") or ".." in m.name.split("/"):
                    raise UnpackError("%s: member %s would leave the unpack directory"
                                      % (path, m.name), ud.url)
            try:
                tar.extractall(dest, members=members, filter="tar")
            except TypeError:
                tar.extractall(dest, members=members)
        return
    if archive and lower.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            z.extractall(dest)
        return
    # A plain file keeps its relative path below the unpack directory.
    rel = ud.path if not ud.path.startswith("/") else os.path.basename(ud.path)
    if ud.type != "file":
        rel = os.path.basename(ud.path)
    target = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(path, target)


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
    import os
    import bb.utils
    entries = []
    for url in (d.getVar("SRC_URI") or "").split():
        ud = FetchData(url, d)
        if ud.type != "file":
            continue
        path = ud.path
        if path.startswith("/"):
            searched = [path]
        else:
            searched = []
            filespath = d.getVar("FILESPATH")
            if filespath:
                _, searched = bb.utils.which(filespath, path, history=True)
        found = False
        for candidate in searched:
            exists = os.path.exists(candidate)
            found = found or exists
            entries.append(candidate + ":" + str(exists))
        if not found:
            bb.fatal("Unable to get checksum for %s SRC_URI entry %s: file could not be found"
                     "\nThe following paths were searched:\n%s"
                     % (d.getVar("PN"), os.path.basename(path), "\n".join(searched)))
    return " ".join(entries)


def localpath(url, d):
    return decodeurl(url)[2]
