"""bb.fetch2 for Bitzel: URL parsing of SRC_URI entries, as the metadata
uses it while parsing. Downloading is the executor's job (issue #5)."""

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
        raise FetchError("downloading is not implemented in Bitzel yet (issue #5)")

    def unpack(self, root, urls=None):
        raise FetchError("unpacking is not implemented in Bitzel yet (issue #5)")

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
