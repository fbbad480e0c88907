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
        host, path = "", location
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


def get_srcrev(d, method_name="sortable_revision"):
    return d.getVar("SRCREV") or ""


def get_hashvalue(d, method_name="sortable_revision"):
    return get_srcrev(d)


def get_checksum_file_list(d):
    return ""


def localpath(url, d):
    return decodeurl(url)[2]
