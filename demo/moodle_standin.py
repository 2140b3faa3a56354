"""A stand-in Moodle 4.1 web service (REST, JSON) on 127.0.0.1, for the Moodle connector's tests
and the demo's Moodle.

Moodle cannot run in the tests, so this follows Moodle 4.1.10's code (MOODLE_401_STABLE, read
in the ``moodleulpgc/moodle41ulpgc`` tree: webservice/rest/server.php and locallib.php,
webservice/lib.php, lib/externallib.php, user/externallib.php, cohort/externallib.php,
enrol/manual/externallib.php, lib/enrollib.php ``enrol_user``) and the answers a real 4.1.10
site gave, recorded in the shared ``moodle/README.md`` ("Web services: ground truth"):

- ``POST /webservice/rest/server.php``, form body, ``wstoken``/``wsfunction``/
  ``moodlewsrestformat`` reserved; every answer HTTP 200 ``application/json``, errors as
  ``{"exception", "errorcode", "message"}`` plus ``debuginfo`` when the site debugs
  (``debug``); a function without a return value answers ``null``; JSON escaped as PHP's
  ``json_encode`` does (``\\uXXXX``, ``\\/``).
- ``invalidtoken`` for a wrong token; ``accessexception`` for a function outside the token's
  service; 403 with an empty body when the REST protocol is off (``rest_enabled``).
- Strict parameter validation (``demo.moodle_params``).
- ``core_user_create_users`` all or nothing; ``core_user_update_users`` and
  ``core_cohort_add_cohort_members`` report per-item problems as ``warnings``;
  ``enrol_manual_enrol_users`` idempotent, ``suspend`` = 1 suspends the enrolment.

Faults for tests: ``http_status`` answers every request with that status instead;
``lose_answer`` names functions that are carried out but whose answer is lost (a 502, as a
proxy gives when Moodle's answer came too late); ``before`` runs a test's callable just before
a function is carried out (another delivery getting there first).

Not Moodle's: ``GET /demo/users``, a read-only JSON listing of what the stand-in holds (users,
their cohorts and course enrolments), for people trying the demo.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from demo.moodle_params import (
    PARAMETERS,
    InvalidParameter,
    clean,
    php_form,
    valid_email,
    validate,
)

SERVICE = frozenset(PARAMETERS)
LISTING = "/demo/users"  # not Moodle's: what the stand-in holds, for the demo
ASSIGNABLE_ROLES = frozenset({3, 4, 5})  # editingteacher, teacher, student
ACCESS_DEBUG = ("Access to the function {}() is not allowed.\n                     There could be "
                "multiple reasons for this: ...")


class MoodleError(Exception):
    def __init__(self, exception: str, errorcode: str, message: str, debuginfo: str | None = None):
        super().__init__(message)
        self.answer = {"exception": exception, "errorcode": errorcode, "message": message}
        self.debuginfo = debuginfo


def invalid(debuginfo: str) -> MoodleError:
    return MoodleError("invalid_parameter_exception", "invalidparameter",
                       "Invalid parameter value detected", debuginfo)


@dataclass
class Enrolment:
    status: int  # 0 active, 1 suspended (ENROL_USER_ACTIVE / ENROL_USER_SUSPENDED)
    roles: set[int] = field(default_factory=set)


@dataclass
class Site:
    """What the stand-in Moodle holds: users by id, cohorts by idnumber, manual enrolments."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    cohorts: dict[str, set[int]] = field(default_factory=dict)  # idnumber -> member ids
    courses: dict[int, dict[int, Enrolment]] = field(default_factory=dict)  # course -> user -> it
    next_id: int = 4  # 1 guest, 2 admin, 3 the web service user

    def by_username(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username), None)

    def email_taken(self, email: str, other_than: int = 0) -> bool:
        return any(u["email"].lower() == email.lower() and u["id"] != other_than
                   for u in self.users.values())


class MoodleStandIn:
    def __init__(self, token: str, *, cohorts: tuple[str, ...] = (), courses: tuple[int, ...] = (),
                 debug: bool = True, port: int = 0) -> None:
        self.token = token
        self.debug = debug
        self.rest_enabled = True
        self.service = set(SERVICE)
        self.http_status: int | None = None
        self.lose_answer: set[str] = set()
        self.before: dict[str, Callable[[Site], object]] = {}
        self.site = Site(cohorts={c: set() for c in cohorts}, courses={c: {} for c in courses})
        self.calls: list[tuple[str, dict[str, Any]]] = []  # function and parameters, in order
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
                pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                status, answer = standin.answer(urlsplit(self.path).path, pairs)
                self.send_response(status)
                if answer:
                    self.send_header("Content-type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                if urlsplit(self.path).path != LISTING:
                    self.send_error(404)
                    return
                answer = json.dumps(standin.listing(), ensure_ascii=False, indent=2).encode()
                self.send_response(200)
                self.send_header("Content-type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        """The site's address (``wwwroot``)."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, path: str, pairs: list[tuple[str, str]]) -> tuple[int, bytes]:
        if self.http_status is not None:
            return self.http_status, b"<html>Service Unavailable</html>"
        if path != "/webservice/rest/server.php":
            return 404, b""
        if not self.rest_enabled:
            return 403, b""
        params = php_form(pairs)
        token, function = params.pop("wstoken", None), params.pop("wsfunction", None)
        params.pop("moodlewsrestformat", None)  # the tests ask for json; xml is not served
        with self.lock:
            try:
                result = self.run(token, function, params)
            except MoodleError as error:
                shown = dict(error.answer)
                if self.debug and error.debuginfo is not None:
                    shown["debuginfo"] = error.debuginfo
                result = shown
        if function in self.lose_answer:
            self.lose_answer.discard(function)
            return 502, b"<html>Bad Gateway</html>"
        return 200, php_json(result)

    def run(self, token: Any, function: Any, params: dict[str, Any]) -> Any:
        if token != self.token:
            raise MoodleError("moodle_exception", "invalidtoken", "Invalid token - token not found")
        if not function:
            raise invalid("Missing function name")
        if function not in self.service:
            raise MoodleError("webservice_access_exception", "accessexception",
                              "Access control exception", ACCESS_DEBUG.format(function))
        try:
            checked = validate(PARAMETERS[function], params)
        except InvalidParameter as error:
            raise invalid(error.debuginfo) from None
        self.calls.append((function, checked))
        if function in self.before:
            self.before.pop(function)(self.site)
        return getattr(self, function)(**checked)

    # user/externallib.php

    def core_user_create_users(self, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        site = self.site
        created: list[dict[str, Any]] = []  # one transaction: written only if all pass
        for user in users:
            for name in ("username", "firstname", "lastname"):
                if user[name].strip() == "":
                    raise invalid(f"The field {name} cannot be blank")
            if site.by_username(user["username"]) or any(
                    u["username"] == user["username"] for u in created):
                raise invalid(f"Username already exists: {user['username']}")
            if user["auth"] in ("mnet", "webservice"):
                raise invalid(f"Invalid authentication type: {user['auth']}")
            if user["auth"] in ("manual", "email") and not (
                    user.get("password") or user.get("createpassword")):
                raise invalid("Invalid password: you must provide a password, or set createpassword.")
            if not valid_email(user["email"]):
                raise invalid(f"Email address is invalid: {user['email']}")
            if site.email_taken(user["email"]) or any(
                    u["email"].lower() == user["email"].lower() for u in created):
                raise invalid(f"Email address already exists: {user['email']}")
            created.append({**user, "id": site.next_id + len(created), "suspended": False,
                            "confirmed": True})
        for user in created:
            site.users[user["id"]] = user
        site.next_id += len(created)
        return [{"id": u["id"], "username": u["username"]} for u in created]

    def core_user_update_users(self, users: list[dict[str, Any]]) -> dict[str, Any]:
        warnings = []
        for user in users:
            existing = self.site.users.get(user["id"])
            problem = None
            if existing is None:
                problem = ("invaliduserid", "Invalid user ID")
            elif "email" in user and user["email"] != existing["email"]:
                if not valid_email(user["email"]):
                    problem = ("useremailinvalid", "Invalid email address")
                elif self.site.email_taken(user["email"], other_than=user["id"]):
                    problem = ("useremailduplicate", "Duplicate email address")
            if problem:
                warnings.append({"item": "user", "itemid": user["id"], "warningcode": problem[0],
                                 "message": problem[1]})
            elif existing is not None:
                existing.update({k: v for k, v in user.items() if k != "id"})
        return {"warnings": warnings}

    def core_user_get_users_by_field(self, field: str, values: list[str]) -> list[dict[str, Any]]:
        if field not in ("id", "idnumber", "username", "email"):
            raise MoodleError("coding_exception", "codingerror", "Coding error detected, it must "
                              "be fixed by a programmer: invalid field parameter")
        for value in values:
            kind = {"id": "int", "username": "username", "email": "raw_trimmed"}.get(field, "raw")
            if clean(value, kind) != value:
                raise invalid(f"The field '{field}' value is invalid: {value}(cleaned value: "
                              f"{clean(value, kind)})")
        found = [u for u in self.site.users.values() if str(u[field]) in values]
        return [self.details(u) for u in sorted(found, key=lambda u: u["id"]) if u[field] != ""]

    def details(self, user: dict[str, Any]) -> dict[str, Any]:
        """``user_get_user_details`` as the recorded answer shows it (a WS user who may see all)."""
        picture = f"{self.url}/theme/image.php/boost/core/1796189573/u/"
        return {"id": user["id"], "username": user["username"], "firstname": user["firstname"],
                "lastname": user["lastname"], "fullname": f"{user['firstname']} {user['lastname']}",
                "email": user["email"], "department": user.get("department", ""),
                "idnumber": user["idnumber"], "firstaccess": 0, "lastaccess": 0,
                "auth": user["auth"], "suspended": bool(user["suspended"]), "confirmed": True,
                "lang": user["lang"], "theme": "", "timezone": "99", "mailformat": 1,
                "profileimageurlsmall": picture + "f2", "profileimageurl": picture + "f1"}

    # cohort/externallib.php

    def core_cohort_add_cohort_members(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        warnings = []
        for member in members:
            cohort, user = member["cohorttype"], member["usertype"]
            if cohort["type"] not in ("id", "idnumber"):
                warnings.append({"warningcode": "1",
                                 "message": f"invalid parameter: cohortype={cohort['type']}"})
                continue
            if user["type"] not in ("id", "username"):
                warnings.append({"warningcode": "1",
                                 "message": f"invalid parameter: usertype={user['type']}"})
                continue
            members_of = self.site.cohorts.get(cohort["value"]) if cohort["type"] == "idnumber" \
                else None
            found = next((u for u in self.site.users.values()
                          if str(u[user["type"]]) == user["value"]), None)
            if members_of is None:
                warnings.append({"warningcode": "2", "message":
                                 f"cohort {cohort['type']}={cohort['value']} not exists"})
            elif found is None:
                warnings.append({"warningcode": "2",
                                 "message": f"user {user['type']}={user['value']} not exists"})
            elif found["id"] in members_of:
                warnings.append({"warningcode": "3", "message": (
                    f"record already exists: cohort({cohort['type']}={cohort['value']} "
                    f"{user['type']}={user['value']})")})
            else:
                members_of.add(found["id"])
        return {"warnings": warnings}

    # enrol/manual/externallib.php

    def enrol_manual_enrol_users(self, enrolments: list[dict[str, Any]]) -> None:
        staged = {course: dict(users) for course, users in self.site.courses.items()}
        for wanted in enrolments:  # one transaction
            course = staged.get(wanted["courseid"])
            if course is None:
                raise invalid("Context does not exist")
            if wanted["roleid"] not in ASSIGNABLE_ROLES:
                raise MoodleError("moodle_exception", "wsusercannotassign", (
                    f"You don't have the permission to assign this role ({wanted['roleid']}) to "
                    f"this user ({wanted['userid']}) in this course ({wanted['courseid']})."))
            status = 1 if wanted.get("suspend") else 0
            current = course.get(wanted["userid"])
            roles = set(current.roles) if current else set()
            course[wanted["userid"]] = Enrolment(status, roles | {wanted["roleid"]})
        self.site.courses = staged

    def enrol_manual_unenrol_users(self, enrolments: list[dict[str, Any]]) -> None:
        staged = {course: dict(users) for course, users in self.site.courses.items()}
        for wanted in enrolments:
            if wanted["courseid"] not in staged:
                raise invalid("Context does not exist")
            if wanted["userid"] not in self.site.users:
                raise invalid(f"User id not exist: {wanted['userid']}")
            staged[wanted["courseid"]].pop(wanted["userid"], None)
        self.site.courses = staged

    # What tests look at

    def user(self, username: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.site.by_username(username)
            return dict(found) if found else None

    def enrolment(self, username: str, course: int) -> Enrolment | None:
        with self.lock:
            user = self.site.by_username(username)
            return self.site.courses[course].get(user["id"]) if user else None

    def cohort_members(self, idnumber: str) -> set[str]:
        with self.lock:
            return {self.site.users[i]["username"] for i in self.site.cohorts[idnumber]}

    def listing(self) -> dict[str, Any]:
        """What ``GET /demo/users`` shows: every user with its cohorts and enrolments."""
        with self.lock:
            site = self.site
            return {"users": [{
                **{k: user.get(k) for k in ("id", "username", "email", "firstname", "lastname",
                                            "idnumber", "auth", "suspended")},
                "cohorts": sorted(c for c, ids in site.cohorts.items() if user["id"] in ids),
                "enrolments": [{"course": course, "roles": sorted(users[user["id"]].roles),
                                "status": "suspended" if users[user["id"]].status else "active"}
                               for course, users in sorted(site.courses.items())
                               if user["id"] in users],
            } for user in sorted(site.users.values(), key=lambda u: u["id"])]}


def php_json(value: Any) -> bytes:
    """As PHP's ``json_encode``: compact, non-ASCII as ``\\uXXXX``, ``/`` as ``\\/``."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()
