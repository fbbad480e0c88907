"""bb.utils for Bitzel: word-list helpers, booleans, dependency strings,
version comparison, file helpers, and the shared inline-python context."""

# collections, hashlib, re and shutil are imported where they are used:
# they are among the costlier modules to import at every task start.
import errno
import os
import time

import bb

_context = {"os": os, "bb": bb, "time": time}


def get_context():
    return _context


def better_eval(source, locals, extraglobals=None):
    ctx = _context
    if extraglobals:
        ctx = dict(_context)
        ctx.update(extraglobals)
    return eval(source, ctx, locals)


def better_exec(code, context, text=None, realfile="<code>", pythonexception=False):
    if not context:
        context = {}
    ctx = dict(_context)
    ctx.update(context)
    if isinstance(code, str):
        code = compile(code, realfile, "exec")
    exec(code, ctx)


def _words(value):
    if isinstance(value, str):
        return set(value.split())
    return set(value)


def contains(variable, checkvalues, truevalue, falsevalue, d):
    value = d.getVar(variable)
    if not value:
        return falsevalue
    if _words(checkvalues).issubset(set(value.split())):
        return truevalue
    return falsevalue


def contains_any(variable, checkvalues, truevalue, falsevalue, d):
    value = d.getVar(variable)
    if not value:
        return falsevalue
    if _words(checkvalues) & set(value.split()):
        return truevalue
    return falsevalue


def filter_string(val, checkvalues):
    """The words of `val` that are in `checkvalues`, sorted."""
    if not val:
        return ""
    return " ".join(sorted(_words(checkvalues) & set(val.split())))


def filter(variable, checkvalues, d):
    return filter_string(d.getVar(variable), checkvalues)


def to_boolean(string, default=None):
    if not string:
        return default
    if isinstance(string, int):
        return string != 0
    lowered = string.lower()
    if lowered in ("y", "yes", "1", "true"):
        return True
    if lowered in ("n", "no", "0", "false"):
        return False
    raise ValueError("Invalid value for to_boolean: %s" % string)


def explode_deps(s):
    """Names of a dependency string, version constraints dropped."""
    result = []
    in_version = False
    for word in s.split():
        if word.startswith("("):
            in_version = True
        if not in_version:
            result.append(word)
        if in_version and word.endswith(")"):
            in_version = False
    return result


def explode_dep_versions2(s, sort=True):
    """`name (op version) ...` to an ordered map of name -> [constraints]."""
    import collections
    result = collections.OrderedDict()
    lastdep = None
    version_parts = []
    in_version = False
    for word in s.split():
        if word.startswith("("):
            in_version = True
            version_parts = [word[1:]]
            if word.endswith(")"):
                in_version = False
                constraint = " ".join(version_parts)[:-1].strip()
                if lastdep is not None:
                    result[lastdep].append(_normalise_constraint(constraint))
            continue
        if in_version:
            version_parts.append(word)
            if word.endswith(")"):
                in_version = False
                constraint = " ".join(version_parts)[:-1].strip()
                if lastdep is not None:
                    result[lastdep].append(_normalise_constraint(constraint))
            continue
        lastdep = word
        result.setdefault(word, [])
    if sort:
        result = collections.OrderedDict(sorted(result.items(), key=lambda item: item[0]))
    return result


def _normalise_constraint(constraint):
    import re
    match = re.match(r"^\s*(<=|>=|=|<<|>>|<|>)\s*(.*)$", constraint)
    if match:
        return "%s %s" % (match.group(1), match.group(2).strip())
    return constraint.strip()


def explode_dep_versions(s):
    result = explode_dep_versions2(s)
    for name, versions in result.items():
        result[name] = versions[0] if versions else None
    return result


def join_deps(deps, commasep=True):
    result = []
    for name in deps:
        versions = deps[name]
        if versions:
            if isinstance(versions, list):
                for version in versions:
                    result.append("%s (%s)" % (name, version))
            else:
                result.append("%s (%s)" % (name, versions))
        else:
            result.append(name)
    return (", " if commasep else " ").join(result)


def _split_version(version):
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
    return (epoch or "0", upstream, revision)


def _order(char):
    if char == "~":
        return -1
    if char.isdigit():
        return 0
    if not char:
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a, b):
    """dpkg-style comparison of one version part."""
    import re
    while a or b:
        first_diff = 0
        while (a and not a[0].isdigit()) or (b and not b[0].isdigit()):
            ac = _order(a[0]) if a and not a[0].isdigit() else 0
            bc = _order(b[0]) if b and not b[0].isdigit() else 0
            if ac != bc:
                return ac - bc
            a, b = a[1:], b[1:]
        da = re.match(r"\d*", a).group(0)
        db = re.match(r"\d*", b).group(0)
        a, b = a[len(da):], b[len(db):]
        first_diff = int(da or 0) - int(db or 0)
        if first_diff:
            return first_diff
    return 0


def vercmp(ta, tb):
    (ea, va, ra) = ta
    (eb, vb, rb) = tb
    result = int(ea or 0) - int(eb or 0)
    if result == 0:
        result = _compare_part(va, vb)
    if result == 0:
        result = _compare_part(ra, rb)
    return (result > 0) - (result < 0)


def vercmp_string(a, b):
    return vercmp(_split_version(a), _split_version(b))


def vercmp_string_op(a, b, op):
    res = vercmp_string(a, b)
    if op in ("=", "=="):
        return res == 0
    if op == "<=":
        return res <= 0
    if op == ">=":
        return res >= 0
    if op in (">", ">>"):
        return res > 0
    if op in ("<", "<<"):
        return res < 0
    if op == "!=":
        return res != 0
    raise ValueError("Unsupported comparison operator '%s'" % op)


def which(path, item, direction=0, history=False, executable=False):
    paths = (path or "").split(":")
    if direction != 0:
        paths.reverse()
    tried = []
    for p in paths:
        candidate = os.path.join(p, item)
        tried.append(candidate)
        if os.path.exists(candidate) and (not executable or os.access(candidate, os.X_OK)):
            if history:
                return candidate, tried
            return candidate
    if history:
        return "", tried
    return ""


def mkdirhier(directory):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        if e.errno != errno.EEXIST or not os.path.isdir(directory):
            raise


def remove(path, recurse=False, ionice=False):
    import glob
    for name in glob.glob(path):
        try:
            if recurse and os.path.isdir(name) and not os.path.islink(name):
                import shutil
                shutil.rmtree(name)
            else:
                os.unlink(name)
        except FileNotFoundError:
            pass


def rename(src, dst):
    os.rename(src, dst)


def copyfile(src, dest, newmtime=None, sstat=None):
    import shutil
    shutil.copy2(src, dest)
    return True


def _file_digest(algorithm, path):
    import hashlib
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def md5_file(path):
    return _file_digest("md5", path)


def sha1_file(path):
    return _file_digest("sha1", path)


def sha256_file(path):
    return _file_digest("sha256", path)


def sha384_file(path):
    return _file_digest("sha384", path)


def sha512_file(path):
    return _file_digest("sha512", path)


def to_filemode(value):
    return int(value, 8)


def lockfile(name, shared=False, retry=True, block=False):
    return None


def unlockfile(lock):
    return None


def is_semver(version):
    import re
    return re.match(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$", version) is not None


def cpu_count():
    return os.cpu_count() or 1


def prunedir(topdir, ionice=False):
    import shutil
    shutil.rmtree(topdir, ignore_errors=True)


def edit_metadata(meta_lines, variables, varfunc, match_overrides=False):
    raise NotImplementedError("bb.utils.edit_metadata is not available in Bitzel yet")
