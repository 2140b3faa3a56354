"""Moodle 4.1's reading and strict validation of web service parameters, for the stand-in.

Follows Moodle 4.1.10 (MOODLE_401_STABLE; read in the ``moodleulpgc/moodle41ulpgc`` tree,
whose web service code is core's): PHP's reading of a form body into nested arrays
(``users[0][username]=...``), ``external_api::validate_parameters`` (lib/externallib.php:
missing keys, ``Unexpected keys (...) detected in parameter array.``, the ``key => ...``
path of a nested failure, PARAM_BOOL's special case) and ``validate_param`` with
``clean_param`` (lib/moodlelib.php: a value is refused when cleaning would change it, so an
upper-case username is refused, never folded). The parameter descriptions are those of
user/externallib.php, cohort/externallib.php and enrol/manual/externallib.php, with each
user field's type from lib/classes/user.php (``core_user::fill_properties_cache``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIRED, OPTIONAL, DEFAULT = "required", "optional", "default"
AUTH_PLUGINS = frozenset({"manual", "nologin", "email", "oauth2", "ldap", "cas", "db", "lti",
                          "mnet", "shibboleth", "webservice", "none"})


class InvalidParameter(Exception):
    """``invalid_parameter_exception``: message "Invalid parameter value detected"."""

    def __init__(self, debuginfo: str) -> None:
        super().__init__(debuginfo)
        self.debuginfo = debuginfo


@dataclass(frozen=True)
class Value:
    type: str
    required: str = REQUIRED
    default: Any = None


@dataclass(frozen=True)
class Single:
    keys: Mapping[str, Value | Single | Multiple]
    required: str = REQUIRED


@dataclass(frozen=True)
class Multiple:
    content: Value | Single
    required: str = REQUIRED
    default: Any = field(default=None)


def php_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Name-value pairs as PHP's ``$_POST`` holds them: ``a[b][0]=x`` -> ``{"a": {"b": {"0": x}}}``."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = re.fullmatch(r"([^\[]+)((?:\[[^\]]*\])*)", name)
        parts = [match.group(1), *re.findall(r"\[([^\]]*)\]", match.group(2))] if match else [name]
        node = root
        for part in parts[:-1]:
            part = part or str(len(node))
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1] or str(len(node))] = value
    return root


def validate(description: Value | Single | Multiple, params: Any) -> Any:
    """``external_api::validate_parameters``: the cleaned parameters, or ``InvalidParameter``."""
    if isinstance(description, Value):
        if isinstance(params, dict):
            raise InvalidParameter("Scalar type expected, array or object received.")
        if description.type == "bool" and params in ("0", "1", 0, 1, True, False):
            return params in ("1", 1, True)
        cleaned = clean(str(params), description.type)
        if cleaned != str(params):
            raise InvalidParameter(f'Invalid external api parameter: the value is "{params}", the '
                                   f'server was expecting "{description.type}" type')
        return int(cleaned) if description.type == "int" else cleaned
    if not isinstance(params, dict):
        raise InvalidParameter(f"Only arrays accepted. The bad value is: '{params}'")
    if isinstance(description, Multiple):
        return [validate(description.content, item) for item in params.values()]
    result: dict[str, Any] = {}
    left = dict(params)
    for key, sub in description.keys.items():
        if key not in left:
            if sub.required == REQUIRED:
                raise InvalidParameter(f"Missing required key in single structure: {key}")
            if isinstance(sub, Value | Multiple) and sub.required == DEFAULT:
                result[key] = sub.default
            continue
        try:
            result[key] = validate(sub, left.pop(key))
        except InvalidParameter as error:
            raise InvalidParameter(f"{key} => Invalid parameter value detected: "
                                   f"{error.debuginfo}") from None
    if left:
        raise InvalidParameter(f"Unexpected keys ({', '.join(left)}) detected in parameter array.")
    return result


def clean(value: str, kind: str) -> str:
    """``clean_param`` for the types these functions use (the rest pass unchanged)."""
    if kind == "int":
        return value if re.fullmatch(r"-?[1-9][0-9]*|0", value) else "0"
    if kind == "bool":
        return "0" if value.lower() in ("off", "no", "false", "", "0") else "1"
    if kind == "username":
        return re.sub(r"[^-.@_a-z0-9]", "", value.strip().lower().replace(" ", ""))
    if kind == "auth":
        return value if value in AUTH_PLUGINS else ""
    if kind == "notags":
        return re.sub(r"<[^>]*(>|$)", "", value)
    if kind == "raw_trimmed":
        return value.strip(" \t\n\r\0\x0b")
    if kind == "alpha":
        return re.sub(r"[^a-zA-Z]", "", value)
    if kind == "alphanumext":
        return re.sub(r"[^A-Za-z0-9_-]", "", value)
    return value  # raw, text, lang, theme, timezone, plugin: as good as raw here


def _user_fields(create: bool) -> dict[str, Value | Single | Multiple]:
    o = OPTIONAL
    fields: dict[str, Value | Single | Multiple] = {
        "createpassword": Value("bool", o), "username": Value("username"),
        "auth": Value("auth", DEFAULT, "manual"), "password": Value("raw", o),
        "firstname": Value("notags"), "lastname": Value("notags"), "email": Value("raw_trimmed"),
        "maildisplay": Value("int", o), "city": Value("text", o), "country": Value("alpha", o),
        "timezone": Value("timezone", o), "description": Value("raw", o),
        "firstnamephonetic": Value("notags", o), "lastnamephonetic": Value("notags", o),
        "middlename": Value("notags", o), "alternatename": Value("notags", o),
        "interests": Value("text", o), "idnumber": Value("raw", DEFAULT, ""),
        "institution": Value("text", o), "department": Value("text", o),
        "phone1": Value("notags", o), "phone2": Value("notags", o), "address": Value("text", o),
        "lang": Value("lang", DEFAULT, "en"), "calendartype": Value("plugin", DEFAULT, "gregorian"),
        "theme": Value("theme", o), "mailformat": Value("int", o),
        "customfields": Multiple(Single({"type": Value("alphanumext"), "value": Value("raw")}), o),
        "preferences": Multiple(Single({"type": Value("raw"), "value": Value("raw")}), o),
    }
    if create:
        return fields
    del fields["createpassword"]
    # update_users: every field optional, the id required, and two more.
    updated: dict[str, Value | Single | Multiple] = {"id": Value("int")}
    for key, sub in fields.items():
        updated[key] = sub if isinstance(sub, Multiple) else Value(sub.type, OPTIONAL)  # type: ignore[union-attr]
        if key == "auth":
            updated["suspended"] = Value("bool", OPTIONAL)
    updated["userpicture"] = Value("int", OPTIONAL)
    return updated


_TYPED = {"type": Value("alphanumext"), "value": Value("raw")}
PARAMETERS: dict[str, Single] = {
    "core_user_create_users": Single({"users": Multiple(Single(_user_fields(create=True)))}),
    "core_user_update_users": Single({"users": Multiple(Single(_user_fields(create=False)))}),
    "core_user_get_users_by_field": Single({"field": Value("alpha"),
                                            "values": Multiple(Value("raw"))}),
    "core_cohort_add_cohort_members": Single({"members": Multiple(Single({
        "cohorttype": Single(_TYPED), "usertype": Single(_TYPED)}))}),
    "enrol_manual_enrol_users": Single({"enrolments": Multiple(Single({
        "roleid": Value("int"), "userid": Value("int"), "courseid": Value("int"),
        "timestart": Value("int", OPTIONAL), "timeend": Value("int", OPTIONAL),
        "suspend": Value("int", OPTIONAL)}))}),
    "enrol_manual_unenrol_users": Single({"enrolments": Multiple(Single({
        "userid": Value("int"), "courseid": Value("int"), "roleid": Value("int", OPTIONAL)}))}),
}

# Close to lib/weblib.php validate_email (PHPMailer::validateAddress, PHP filter_var rules): ASCII
# addresses with a dotted domain; no "<" or ">".
_EMAIL = re.compile(r"[-!#$%&'*+\\/0-9=?A-Z^_`a-z{|}~]+(\.[-!#$%&'*+\\/0-9=?A-Z^_`a-z{|}~]+)*"
                    r"@[-!#$%&'*+\\/0-9=?A-Z^_`a-z{|}~]+\.[-!#$%&'*+\\./0-9=?A-Z^_`a-z{|}~]+")


def valid_email(address: str) -> bool:
    return bool(_EMAIL.fullmatch(address))
