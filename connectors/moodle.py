"""``type = "moodle"``: a grant prepares the person's Moodle account, cohorts and course
enrolment through Moodle's web services (Moodle 4.1); a revoke suspends them.

The account is found by ``username`` = the campus id (lower case, as Moodle keeps
usernames) and created with ``auth = oauth2`` and the very email Campus ID's ``moodle``
profile sends at login: Moodle's OAuth 2 login links a first login to the account with that
email, so the person lands in the account prepared for them, courses included
(docs/moodle.md). A grant of a course resource (one in ``courses``) or of a Moodle-wide
resource (any other resource of this connector) creates or updates the account and
reactivates it, adds it to the cohort of each of the person's organizations that has one
(``cohorts``), and for a course enrols it with ``role_id``; a revoke of a course suspends
the enrolment (grades and work stay), and when the person holds nothing of this connector
any more (``Delivery.held`` empty), the account is suspended. Every call is safe to repeat:
the account is looked up before it is created, and Moodle's own calls are idempotent. All
calls of one delivery share one deadline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connectors import moodle_options, moodle_ws
from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.moodle_options import MoodleOptions, problems

__all__ = ["MoodleConnector", "create", "moodle_names", "problems"]

ALREADY_MEMBER = "3"  # core_cohort_add_cohort_members: "record already exists"


def create(name: str, options: Mapping[str, Any]) -> MoodleConnector:
    """The connector for options that ``problems`` accepts (``ValueError`` otherwise)."""
    try:
        return MoodleConnector(name, moodle_options.parse(options))
    except ValueError as error:
        raise ValueError(f"connector {name!r}: {error}") from None


def moodle_names(person: Mapping[str, Any]) -> tuple[str, str]:
    """First and last name: Moodle requires both. The directory's given and family names;
    else the display name split at its last space; else the campus id and ``-``."""
    given = str(person.get("given_name") or "").strip()
    family = str(person.get("family_name") or "").strip()
    words = str(person.get("name") or "").split()
    if not given:
        given = " ".join(words[:-1]) if len(words) > 1 else (words[0] if words else "")
    if not family:
        family = words[-1] if len(words) > 1 else ""
    return given or str(person.get("campus_id") or "-"), family or "-"


class _Calls:
    """The calls of one delivery, sharing one deadline (on ``time.monotonic``)."""

    def __init__(self, options: MoodleOptions, deadline: float) -> None:
        self.options = options
        self.deadline = deadline

    def __call__(self, function: str, **arguments: moodle_ws.Value) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RetryLater(f"Moodle {function}: no time was left for the call")
        return moodle_ws.call(self.options.endpoint, self.options.token, function, arguments,
                              left)


class MoodleConnector:
    """Delivers grants and revokes to one Moodle site (the token kept out of ``repr``)."""

    def __init__(self, name: str, options: MoodleOptions) -> None:
        self._name = name
        self.options = options

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"MoodleConnector(name={self._name!r}, endpoint={self.options.endpoint!r})"

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        """One attempt, every call within the lesser of ``timeout_s`` and ``deadline_s``."""
        calls = _Calls(self.options, time.monotonic() + min(self.options.timeout_s, deadline_s))
        username = username_of(delivery.person)
        if delivery.kind is DeliveryKind.GRANT:
            self._grant(calls, delivery, username)
        else:
            self._revoke(calls, delivery, username)

    def _grant(self, calls: _Calls, delivery: Delivery, username: str) -> None:
        person = delivery.person
        email = person.get("email")
        if not isinstance(email, str) or not email:
            raise NeverWorks("the person has no email address: Moodle requires one, and its "
                             "OAuth 2 login refuses a person without one")
        first, last = moodle_names(person)
        wanted = {"firstname": first, "lastname": last, "email": email}
        user = find_user(calls, username)
        if user is None:
            user = self._create(calls, username, str(person["campus_id"]), wanted)
        else:
            update_user(calls, user, wanted)
        user_id = user_id_of(user)
        cohort_problems = self._add_to_cohorts(calls, user_id, person.get("organizations") or ())
        course = self.options.courses.get(delivery.resource)
        if course is not None:
            self._enrol(calls, user_id, course, suspend=False)
        if cohort_problems:
            raise NeverWorks(("Moodle core_cohort_add_cohort_members: "
                              + "; ".join(cohort_problems))[:300])

    def _revoke(self, calls: _Calls, delivery: Delivery, username: str) -> None:
        user = find_user(calls, username)
        if user is None:
            return  # nothing of the person in Moodle: nothing to take back
        course = self.options.courses.get(delivery.resource)
        if course is not None:
            self._enrol(calls, user_id_of(user), course, suspend=True)
        if not delivery.held and user.get("suspended") is not True:
            suspend = [{"id": user_id_of(user), "suspended": True}]
            raise_warnings("core_user_update_users", calls("core_user_update_users", users=suspend))

    def _create(self, calls: _Calls, username: str, campus_id: str,
                wanted: Mapping[str, str]) -> Mapping[str, Any]:
        new = {"username": username, "auth": self.options.auth, **wanted, "idnumber": campus_id}
        try:
            answer = calls("core_user_create_users", users=[new])
        except NeverWorks:
            # A repeat whose first attempt created the user but lost the answer, or another
            # delivery that came first: the username exists now. Otherwise a real refusal.
            user = find_user(calls, username)
            if user is None:
                raise
            update_user(calls, user, wanted)
            return user
        if (not isinstance(answer, list) or len(answer) != 1 or not isinstance(answer[0], dict)
                or answer[0].get("username") != username):
            raise NeverWorks(f"Moodle core_user_create_users: unexpected answer {answer!r}"[:300])
        return {**answer[0], "suspended": False}

    def _add_to_cohorts(self, calls: _Calls, user_id: int, organizations: Any) -> list[str]:
        cohorts = dict.fromkeys(self.options.cohorts[o] for o in organizations
                                if o in self.options.cohorts)
        if not cohorts:
            return []
        members: list[moodle_ws.Value] = [
            {"cohorttype": {"type": "idnumber", "value": cohort},
             "usertype": {"type": "id", "value": user_id}} for cohort in cohorts]
        answer = calls("core_cohort_add_cohort_members", members=members)
        return [f"{w.get('warningcode')}: {w.get('message')}"
                for w in moodle_ws.warnings_of(answer)
                if str(w.get("warningcode")) != ALREADY_MEMBER]

    def _enrol(self, calls: _Calls, user_id: int, course: int, *, suspend: bool) -> None:
        enrolment = {"roleid": self.options.role_id, "userid": user_id, "courseid": course,
                     "suspend": 1 if suspend else 0}
        calls("enrol_manual_enrol_users", enrolments=[enrolment])


def username_of(person: Mapping[str, Any]) -> str:
    """The Moodle username: the campus id, lower case (Moodle refuses others, never folds)."""
    campus_id = person.get("campus_id")
    if not isinstance(campus_id, str) or not campus_id:
        raise NeverWorks("the delivery names no campus id")
    return campus_id.lower()


def find_user(calls: _Calls, username: str) -> Mapping[str, Any] | None:
    """The Moodle user with exactly this username, or ``None``."""
    answer = calls("core_user_get_users_by_field", field="username", values=[username])
    if not isinstance(answer, list):
        raise NeverWorks(f"Moodle core_user_get_users_by_field: unexpected answer {answer!r}"[:300])
    found = [u for u in answer if isinstance(u, dict) and u.get("username") == username]
    return found[0] if found else None


def update_user(calls: _Calls, user: Mapping[str, Any], wanted: Mapping[str, str]) -> None:
    """Names and email as wanted, and the account active; only what differs is sent."""
    changes: dict[str, moodle_ws.Value] = {k: v for k, v in wanted.items() if user.get(k) != v}
    if user.get("suspended") is not False:
        changes["suspended"] = False
    if changes:
        answer = calls("core_user_update_users", users=[{"id": user_id_of(user), **changes}])
        raise_warnings("core_user_update_users", answer)


def raise_warnings(function: str, answer: Any) -> None:
    """``NeverWorks`` naming each of the answer's warnings, if it has any."""
    found = moodle_ws.warnings_of(answer)
    if found:
        raise NeverWorks(f"Moodle {function}: " + "; ".join(
            f"{w.get('warningcode')}: {w.get('message')}" for w in found)[:300])


def user_id_of(user: Mapping[str, Any]) -> int:
    user_id = user.get("id")
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise NeverWorks(f"Moodle gave a user without a numeric id: {user_id!r}"[:300])
    return user_id
