"""Russian and English for the pages people see: chosen by a ``lang`` cookie set by the
language switch, else by ``Accept-Language``; Russian when neither says."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, g, request
from jinja2 import pass_context
from jinja2.runtime import Context
from werkzeug.exceptions import HTTPException

LANGUAGES = ("ru", "en")
COOKIE = "lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title.login": "Log in — Campus ID",
        "login.heading": "Log in with your university account",
        "login.for_client": "to continue to {client}",
        "login.organization": "University",
        "login.choose": "Choose your university",
        "login.username": "Username",
        "login.username_hint": "The login you use at your university, e.g. ivanov or ivanov@tpu.ru",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.invalid": "Wrong username or password.",
        "login.missing": "Please fill in every field.",
        "login.unknown_org": "Please choose your university.",
        "login.disabled": "This account is disabled at your university. Please contact its IT service.",
        "login.locked": "This account is locked at your university. Please try again later or contact its IT service.",
        "login.identity_locked": "Your campus identity is locked by the helpdesk. Please contact the helpdesk.",
        "login.expired": "Your password has expired. Please change it at your university first.",
        "login.unavailable": "The directory of {org} is not responding. Please try again in a few minutes.",
        "login.expired_form": "The form has expired. Please try again.",
        "login.throttled": "Too many failed attempts to log in. Please wait {wait} and try again.",
        "wait.few_seconds": "a few seconds",
        "wait.seconds": "about {n} seconds",
        "wait.minutes.one": "about {n} minute",
        "wait.minutes.many": "about {n} minutes",
        "title.consent": "Allow access — Campus ID",
        "consent.heading": "{client} asks for access",
        "consent.intro": "If you allow it, {client} will receive:",
        "consent.allow": "Allow",
        "consent.deny": "Deny",
        "consent.remember": "Your decision is remembered; you can change it in My Campus ID.",
        "consent.logo_alt": "Logo of {client}",
        "consent.policy": "Privacy policy of {client}",
        "consent.terms": "Terms of service of {client}",
        "claim.sub": "An identifier of your Campus ID for this service (it reveals nothing about you)",
        "claim.name": "Your full name",
        "claim.given_name": "Your given name",
        "claim.family_name": "Your family name",
        "claim.middle_name": "Your patronymic",
        "claim.preferred_username": "Your username at your university",
        "claim.locale": "Your preferred language",
        "claim.email": "Your email address",
        "claim.campus_id": "Your campus card number",
        "claim.affiliations": "Your roles at your universities (student, staff, faculty…)",
        "claim.entitlements": "Your entitlements (e.g. access to licensed library resources)",
        "claim.organizations": "The universities you belong to",
        "scope.openid": "Your Campus ID identifier",
        "scope.profile": "Your name and username",
        "scope.email": "Your email address",
        "scope.campus": "Your campus card number, universities and roles (student, staff)",
        "scope.offline_access": "Access to this information also while you are not signed in, "
                                "until you revoke it",
        "title.error": "Error — Campus ID",
        "error.heading": "Something is wrong with this request",
        "error.back": "Please go back to the application you came from and try again.",
        "unavailable.title": "Temporarily unavailable — Campus ID",
        "unavailable.heading": "Campus ID is temporarily unavailable",
        "unavailable.text": "We are having a technical problem on our side. Please try again in a minute.",
        "error.too_large": "What you sent is too large (more than 64 KB).",
        "title.home": "Campus ID",
        "home.signed_in": "You are logged in as {name}.",
        "home.signed_out": "You are not logged in.",
        "home.logout": "Log out",
        "title.account": "My Campus ID",
        "account.heading": "My Campus ID",
        "account.campus_id": "Campus card number {campus_id}",
        "account.accounts": "Your university accounts",
        "account.primary": "primary",
        "account.make_primary": "Make primary",
        "account.primary_hint": "Your name and email address reach services from the primary account.",
        "account.proposals": "Is this you too?",
        "account.proposal_text": "An account at {orgs} looks like yours. To link it, log in with it below; "
                                 "if it is not yours, reject the proposal.",
        "account.accept": "It is mine: link it",
        "account.reject": "Not mine",
        "account.link_heading": "Link another university account",
        "account.link_text": "Log in with your account at another university: both accounts then "
                             "share this Campus ID, and services see you as one person.",
        "account.link_submit": "Link account",
        "account.consents": "Services you allowed",
        "account.consented_at": "allowed {when}",
        "account.revoke": "Revoke access",
        "account.no_consents": "You have not allowed any service yet.",
        "account.sessions": "Sessions",
        "account.sessions_count": "Active sessions on your devices: {n}.",
        "account.logout_everywhere": "Log out everywhere",
        "account.not_found": "This item is not yours or no longer exists.",
        "account.already_linked": "This account is already linked to your Campus ID.",
        "account.not_proposed": "That account is not the one this proposal is about.",
        "account.conflict": "Your Campus ID changed meanwhile. Please reload the page and try again.",
        "account.unavailable": "That university's directory is not responding. Please try again in a few minutes.",
        "account.done.revoked": "Access revoked. The service will ask for your permission again.",
        "account.done.linked": "The account is linked to your Campus ID.",
        "account.done.primary": "Primary account changed.",
        "account.done.accepted": "The accounts are linked.",
        "account.done.rejected": "The proposal is rejected.",
        "account.done.logged_out": "You are logged out everywhere.",
        "account.done.undone": "The link is undone: that account has a Campus ID of its own now.",
        "account.how.first_login": "Your Campus ID was created at this account's first login, {when}.",
        "account.how.rule": "Linked automatically by the rule “{rule}”, {when}.",
        "account.how.person": "Linked on My Campus ID with the passwords of both accounts, {when}.",
        "account.how.staff": "Linked by the helpdesk, {when}.",
        "account.how.unlink": "Separated from another Campus ID, {when}.",
        "account.how.unknown": "Linked {when}.",
        "account.signed_in_with": "You are logged in with this account.",
        "account.not_me": "This was not me",
        "account.not_me_hint": "A link of the last 30 days that you did not make is undone with "
                               "“This was not me”: that account gets a Campus ID of its own, and "
                               "services see it as another person. The account you are logged in "
                               "with and the accounts linked before it stay; for those, please "
                               "contact the helpdesk.",
        "account.not_undoable": "This link cannot be undone here: only links of the last 30 days, "
                                "made after the account you are logged in with, can. Please contact "
                                "the helpdesk.",
        "account.reauth_legend": "Confirm that it is you",
        "account.current_password": "Your current password ({account})",
        "account.reauth_text": "Every link asks again for the password of the account you are "
                               "logged in with.",
        "account.other_legend": "The account to link",
        "account.reauth_missing": "Please enter the password of the account you are logged in with.",
        "account.reauth_invalid": "The password of the account you are logged in with is wrong.",
        "title.logout": "Log out — Campus ID",
        "logout.confirm_heading": "Log out of Campus ID?",
        "logout.confirm_for_client": "{client} asks to end your Campus ID session.",
        "logout.confirm_text": "You will be logged out of Campus ID and of the services that support it.",
        "logout.confirm": "Log out",
        "logout.done_heading": "You are logged out",
        "logout.done_text": "Your Campus ID session has ended. You may close this window.",
        "logout.bad_hint": "The logout request carries an ID token that was not issued by Campus ID.",
        "logout.bad_client": "The logout request names an unknown service.",
        "logout.bad_redirect": "The address to return to after logout is not registered for this service.",
        "lang.switch": "Русский",
        "skip": "Skip to the form",
    },
    "ru": {
        "title.login": "Вход — Campus ID",
        "login.heading": "Вход с учётной записью вашего университета",
        "login.for_client": "для продолжения работы с «{client}»",
        "login.organization": "Университет",
        "login.choose": "Выберите свой университет",
        "login.username": "Логин",
        "login.username_hint": "Логин, которым вы входите в университете, например ivanov или ivanov@tpu.ru",
        "login.password": "Пароль",
        "login.submit": "Войти",
        "login.invalid": "Неверный логин или пароль.",
        "login.missing": "Пожалуйста, заполните все поля.",
        "login.unknown_org": "Пожалуйста, выберите свой университет.",
        "login.disabled": "Эта учётная запись отключена в вашем университете. Обратитесь в его ИТ-службу.",
        "login.locked": "Эта учётная запись заблокирована в вашем университете. Попробуйте позже или обратитесь в его ИТ-службу.",
        "login.identity_locked": "Ваша кампусная учётная запись заблокирована службой поддержки. Обратитесь в службу поддержки.",
        "login.expired": "Срок действия пароля истёк. Сначала смените пароль в своём университете.",
        "login.unavailable": "Каталог «{org}» не отвечает. Попробуйте через несколько минут.",
        "login.expired_form": "Форма устарела. Пожалуйста, попробуйте ещё раз.",
        "login.throttled": "Слишком много неудачных попыток входа. Подождите {wait} и попробуйте снова.",
        "wait.few_seconds": "несколько секунд",
        "wait.seconds": "примерно {n} секунд",
        "wait.minutes.one": "примерно {n} минуту",
        "wait.minutes.few": "примерно {n} минуты",
        "wait.minutes.many": "примерно {n} минут",
        "title.consent": "Разрешение доступа — Campus ID",
        "consent.heading": "«{client}» запрашивает доступ",
        "consent.intro": "Если вы разрешите, «{client}» получит:",
        "consent.allow": "Разрешить",
        "consent.deny": "Отказать",
        "consent.remember": "Решение будет запомнено; изменить его можно в «Мой Campus ID».",
        "consent.logo_alt": "Логотип «{client}»",
        "consent.policy": "Политика конфиденциальности «{client}»",
        "consent.terms": "Условия использования «{client}»",
        "claim.sub": "Идентификатор вашего Campus ID для этого сервиса (ничего о вас не раскрывает)",
        "claim.name": "Ваши фамилия, имя и отчество",
        "claim.given_name": "Ваше имя",
        "claim.family_name": "Ваша фамилия",
        "claim.middle_name": "Ваше отчество",
        "claim.preferred_username": "Ваш логин в университете",
        "claim.locale": "Предпочитаемый вами язык",
        "claim.email": "Ваш адрес электронной почты",
        "claim.campus_id": "Номер вашей кампусной карты",
        "claim.affiliations": "Ваши роли в университетах (студент, сотрудник, преподаватель…)",
        "claim.entitlements": "Ваши права доступа (например, к лицензионным ресурсам библиотеки)",
        "claim.organizations": "Университеты, к которым вы относитесь",
        "scope.openid": "Ваш идентификатор Campus ID",
        "scope.profile": "Ваше имя и логин",
        "scope.email": "Ваш адрес электронной почты",
        "scope.campus": "Номер кампусной карты, ваши университеты и роли (студент, сотрудник)",
        "scope.offline_access": "Доступ к этим данным и тогда, когда вы не в системе, "
                                "пока вы его не отзовёте",
        "title.error": "Ошибка — Campus ID",
        "error.heading": "С этим запросом что-то не так",
        "error.back": "Вернитесь в приложение, из которого вы пришли, и попробуйте ещё раз.",
        "unavailable.title": "Временно недоступно — Campus ID",
        "unavailable.heading": "Campus ID временно недоступен",
        "unavailable.text": "У нас технические неполадки. Пожалуйста, попробуйте через минуту.",
        "error.too_large": "Отправленные данные слишком велики (больше 64 КБ).",
        "title.home": "Campus ID",
        "home.signed_in": "Вы вошли как {name}.",
        "home.signed_out": "Вы не вошли в систему.",
        "home.logout": "Выйти",
        "title.account": "Мой Campus ID",
        "account.heading": "Мой Campus ID",
        "account.campus_id": "Номер кампусной карты {campus_id}",
        "account.accounts": "Ваши университетские учётные записи",
        "account.primary": "основная",
        "account.make_primary": "Сделать основной",
        "account.primary_hint": "Имя и адрес электронной почты сервисы получают из основной учётной записи.",
        "account.proposals": "Это тоже вы?",
        "account.proposal_text": "Учётная запись в организации {orgs} похожа на вашу. Чтобы связать её, "
                                 "войдите с ней ниже; если она не ваша, отклоните предложение.",
        "account.accept": "Это моя: связать",
        "account.reject": "Не моя",
        "account.link_heading": "Связать учётную запись другого университета",
        "account.link_text": "Войдите с учётной записью другого университета: обе учётные записи "
                             "получат этот Campus ID, и сервисы будут видеть вас как одного человека.",
        "account.link_submit": "Связать",
        "account.consents": "Сервисы, которым вы дали доступ",
        "account.consented_at": "доступ дан {when}",
        "account.revoke": "Отозвать доступ",
        "account.no_consents": "Вы ещё не дали доступ ни одному сервису.",
        "account.sessions": "Сеансы",
        "account.sessions_count": "Активных сеансов на ваших устройствах: {n}.",
        "account.logout_everywhere": "Выйти на всех устройствах",
        "account.not_found": "Этот элемент вам не принадлежит или больше не существует.",
        "account.already_linked": "Эта учётная запись уже связана с вашим Campus ID.",
        "account.not_proposed": "Это не та учётная запись, о которой идёт речь в предложении.",
        "account.conflict": "Ваш Campus ID тем временем изменился. Обновите страницу и попробуйте снова.",
        "account.unavailable": "Каталог этого университета не отвечает. Попробуйте через несколько минут.",
        "account.done.revoked": "Доступ отозван. Сервис снова спросит ваше разрешение.",
        "account.done.linked": "Учётная запись связана с вашим Campus ID.",
        "account.done.primary": "Основная учётная запись изменена.",
        "account.done.accepted": "Учётные записи связаны.",
        "account.done.rejected": "Предложение отклонено.",
        "account.done.logged_out": "Вы вышли на всех устройствах.",
        "account.done.undone": "Связь отменена: у этой учётной записи теперь собственный Campus ID.",
        "account.how.first_login": "Campus ID создан при первом входе с этой учётной записью, {when}.",
        "account.how.rule": "Связана автоматически по правилу «{rule}», {when}.",
        "account.how.person": "Связана в «Моём Campus ID» по паролям обеих учётных записей, {when}.",
        "account.how.staff": "Связана службой поддержки, {when}.",
        "account.how.unlink": "Отделена от другого Campus ID, {when}.",
        "account.how.unknown": "Связана {when}.",
        "account.signed_in_with": "Вы вошли с этой учётной записью.",
        "account.not_me": "Это не я",
        "account.not_me_hint": "Связь последних 30 дней, которую вы не устанавливали, отменяется "
                               "кнопкой «Это не я»: эта учётная запись получит собственный Campus ID, "
                               "и сервисы будут видеть её как другого человека. Учётная запись, с "
                               "которой вы вошли, и связанные раньше неё остаются; по ним обращайтесь "
                               "в службу поддержки.",
        "account.not_undoable": "Эту связь здесь отменить нельзя: только связи последних 30 дней, "
                                "установленные после учётной записи, с которой вы вошли. Обратитесь "
                                "в службу поддержки.",
        "account.reauth_legend": "Подтвердите, что это вы",
        "account.current_password": "Ваш текущий пароль ({account})",
        "account.reauth_text": "Для каждой связи нужно снова ввести пароль учётной записи, с которой "
                               "вы вошли.",
        "account.other_legend": "Учётная запись, которую нужно связать",
        "account.reauth_missing": "Введите пароль учётной записи, с которой вы вошли.",
        "account.reauth_invalid": "Неверный пароль учётной записи, с которой вы вошли.",
        "title.logout": "Выход — Campus ID",
        "logout.confirm_heading": "Выйти из Campus ID?",
        "logout.confirm_for_client": "{client} просит завершить ваш сеанс Campus ID.",
        "logout.confirm_text": "Вы выйдете из Campus ID и из сервисов, которые это поддерживают.",
        "logout.confirm": "Выйти",
        "logout.done_heading": "Вы вышли из системы",
        "logout.done_text": "Сеанс Campus ID завершён. Это окно можно закрыть.",
        "logout.bad_hint": "Запрос на выход содержит ID-токен, выпущенный не Campus ID.",
        "logout.bad_client": "Запрос на выход называет неизвестный сервис.",
        "logout.bad_redirect": "Адрес возврата после выхода не зарегистрирован для этого сервиса.",
        "lang.switch": "English",
        "skip": "Перейти к форме",
    },
}


def current_language() -> str:
    """``g.ui_language`` when a view set one, else the query's or the cookie's choice, else the
    best match of Accept-Language, else Russian. A page asks once per text: what the request
    itself says is worked out once and kept in ``g``."""
    chosen = g.get("ui_language")
    if chosen:
        return chosen if chosen in LANGUAGES else _requested_language(accept_only=True)
    return _requested_language()


def _requested_language(*, accept_only: bool = False) -> str:
    key = "accepted_language" if accept_only else "requested_language"
    found: str | None = g.get(key)
    if found is None:
        chosen = None if accept_only else (request.args.get(COOKIE) or request.cookies.get(COOKIE))
        found = chosen if chosen in LANGUAGES else (
            request.accept_languages.best_match(LANGUAGES) or "ru")
        setattr(g, key, found)
    return found


def translate(key: str, **values: str) -> str:
    text = MESSAGES[current_language()].get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


def plural(n: int) -> str:
    """The plural category of ``n`` (CLDR: one, few, many) in the current language."""
    if current_language() != "ru":
        return "one" if n == 1 else "many"
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def wait_text(seconds: int) -> str:
    """A rough duration to wait: "a few seconds", "about 30 seconds", "about 2 minutes"."""
    if seconds <= 5:
        return translate("wait.few_seconds")
    if seconds < 60:
        return translate("wait.seconds", n=str(-(-seconds // 5) * 5))
    minutes = -(-seconds // 60)
    return translate(f"wait.minutes.{plural(minutes)}", n=str(minutes))


def switch_url() -> str:
    """The same page in the other language (GET parameters kept)."""
    args = request.args.to_dict(flat=False)
    args[COOKIE] = ["en" if current_language() == "ru" else "ru"]
    rid = _posted_rid()
    if rid:
        args["rid"] = [rid]
    return request.path + "?" + urlencode(args, doseq=True)


def _posted_rid() -> str:
    """The login form's request id, when a posted form carries one. An error page about a
    body that could not be read (too large, too many parts) gets none: reading the body
    again would only fail again."""
    if request.method != "POST":
        return ""
    try:
        return request.form.get("rid", "")
    except HTTPException:
        return ""


# The page's language, worked out once per page (``init_app``) rather than once per text.
PAGE_LANGUAGE = "_page_language"


@pass_context
def page_language(page: Context) -> str:
    """``lang()`` in a template: ``current_language`` as it was when the page began."""
    found: str | None = page.get(PAGE_LANGUAGE)
    return found or current_language()


@pass_context
def page_text(page: Context, key: str, **values: str) -> str:
    """``t()`` in a template: ``translate`` in the page's language."""
    language: str | None = page.get(PAGE_LANGUAGE)
    text = MESSAGES[language or current_language()].get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


class PageTexts:
    """``texts[key]`` in a template: ``t(key)`` for a text without values, looked up as an item
    rather than called (a call from a template costs several of Jinja's own)."""

    __slots__ = ("language",)

    def __init__(self, language: str) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        return MESSAGES[self.language].get(key) or MESSAGES["en"].get(key, key)


PAGE_TEXTS = {language: PageTexts(language) for language in LANGUAGES}


def page_context() -> dict[str, object]:
    """What every page gets: its language, and its texts in that language."""
    language = current_language()
    return {PAGE_LANGUAGE: language, "texts": PAGE_TEXTS[language]}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=page_text, lang=page_language, lang_switch_url=switch_url)
    app.context_processor(page_context)

    @app.after_request
    def remember_choice(response: Response) -> Response:
        if COOKIE not in request.environ.get("QUERY_STRING", ""):
            return response  # most requests: no need to parse the query string
        chosen = request.args.get(COOKIE)
        if chosen in LANGUAGES:
            response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax",
                                httponly=True, secure=request.is_secure)
        return response
