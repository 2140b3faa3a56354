"""Russian and English texts of the console's link by search, card re-issue, delivery retry,
recent logins and throttle pages (``views_actions``), and the Russian texts of the services'
refusals (``refusals``); added to ``idp.web.i18n`` when the blueprint is registered."""

from __future__ import annotations

from idp.web.messages import MESSAGES

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "helpdesk.action.link": "Link an account",
        "helpdesk.action.card": "Re-issue the campus card",
        "helpdesk.action.retry": "Retry the delivery",
        "helpdesk.action.unthrottle": "Clear the login throttle",
        "helpdesk.link.search_label": "Find the account to link: name, username, e-mail, "
                                      "campus ID or sub",
        "helpdesk.link.intro": "Link an account to {name}: find it, pick it, see what "
                               "changes, then confirm with a reason.",
        "helpdesk.link.pick": "Link {account}",
        "helpdesk.link.here": "already linked here",
        "helpdesk.link.none": "No account to link was found for “{q}”.",
        "helpdesk.will.link_accounts": "These accounts join this person: {accounts}.",
        "helpdesk.will.link_sub": "This person keeps the sub {sub}; the sub of the other campus "
                                  "identity, {absorbed}, becomes an alias of it: applications "
                                  "that know it find this person.",
        "helpdesk.will.link_rest": "Sessions, consents and tokens of the other identity move "
                                   "here; applications are told; access is recomputed for "
                                   "both.",
        "helpdesk.will.link_same": "{account} is already linked to this person: nothing "
                                   "would change.",
        "helpdesk.card": "Campus card",
        "helpdesk.card.active": "Card {number}, issued {at}",
        "helpdesk.card.none": "No active campus card.",
        "helpdesk.will.card_old": "The card {number} stops working at once; the libraries "
                                  "are told to refuse it.",
        "helpdesk.will.card_first": "The person has no active card: a first card number is "
                                    "issued.",
        "helpdesk.will.card_new": "A new card number is issued and sent to the libraries the "
                                  "person uses.",
        "helpdesk.logins": "Recent logins and failures",
        "helpdesk.logins.none": "No login in the last {days} days.",
        "helpdesk.logins.when": "When",
        "helpdesk.logins.outcome": "Outcome",
        "helpdesk.logins.account": "Account",
        "helpdesk.logins.client": "Application",
        "helpdesk.logins.ip": "IP address",
        "helpdesk.logins.direct": "Campus ID itself",
        "helpdesk.login.succeeded": "logged in",
        "helpdesk.login.failed": "wrong password or refused",
        "helpdesk.login.throttled": "held back by the throttle",
        "helpdesk.login.refused_locked": "refused: locked",
        "helpdesk.throttle": "Login throttling",
        "helpdesk.throttle.free": "{account}: not held back",
        "helpdesk.throttle.held": "{account}: held back until {until}",
        "helpdesk.will.unthrottle_held": "{account} is held back until {until}: its failed "
                                         "logins are forgotten and it may log in at once.",
        "helpdesk.will.unthrottle_free": "{account} is not held back now; its failed logins "
                                         "are forgotten.",
        "helpdesk.deliveries": "Failed deliveries",
        "helpdesk.deliveries.none": "No failed delivery.",
        "helpdesk.deliveries.line": "Job {id}: {kind} of {resource} to {connector}, {attempts} "
                                    "attempts",
        "helpdesk.deliveries.failed": "failed: {error}",
        "helpdesk.deliveries.retrying": "to be tried again at {at}: {error}",
        "helpdesk.will.retry": "Job {id} ({kind} of {resource} to {connector}, {attempts} "
                               "attempts) is sent again now: the same message, with the same "
                               "idempotency key.",
        "helpdesk.will.retry_error": "Its last error: {error}",
        "helpdesk.job.grant": "grant",
        "helpdesk.job.revoke": "revoke",
        "helpdesk.done.link": "The account is linked.",
        "helpdesk.done.card": "A new campus card is issued; the old one no longer works.",
        "helpdesk.done.retry": "The delivery is sent again.",
        "helpdesk.done.unthrottle": "The login throttle is cleared for the account.",
    },
    "ru": {
        "helpdesk.action.link": "Привязать учётную запись",
        "helpdesk.action.card": "Перевыпустить карту",
        "helpdesk.action.retry": "Повторить доставку",
        "helpdesk.action.unthrottle": "Снять ограничение входа",
        "helpdesk.link.search_label": "Найдите учётную запись: имя, логин, e-mail, кампусный "
                                      "номер или sub",
        "helpdesk.link.intro": "Привязать учётную запись к карточке «{name}»: найдите её, "
                               "выберите, посмотрите, что изменится, и подтвердите с причиной.",
        "helpdesk.link.pick": "Привязать {account}",
        "helpdesk.link.here": "уже привязана здесь",
        "helpdesk.link.none": "По запросу «{q}» учётных записей для привязки не нашлось.",
        "helpdesk.will.link_accounts": "К этому человеку перейдут учётные записи: {accounts}.",
        "helpdesk.will.link_sub": "У человека останется sub {sub}; sub другой кампусной записи, "
                                  "{absorbed}, станет его псевдонимом: приложения, которые его "
                                  "знают, найдут этого человека.",
        "helpdesk.will.link_rest": "Сеансы, согласия и токены другой записи перейдут сюда; "
                                   "приложения будут уведомлены; доступ будет пересчитан для "
                                   "обеих.",
        "helpdesk.will.link_same": "{account} уже привязана к этому человеку: ничего не "
                                   "изменится.",
        "helpdesk.card": "Кампусная карта",
        "helpdesk.card.active": "Карта {number}, выдана {at}",
        "helpdesk.card.none": "Действующей кампусной карты нет.",
        "helpdesk.will.card_old": "Карта {number} сразу перестанет действовать; библиотекам "
                                  "будет сообщено, что её больше не принимать.",
        "helpdesk.will.card_first": "Действующей карты нет: будет выдан первый номер карты.",
        "helpdesk.will.card_new": "Будет выдан новый номер карты; он будет отправлен в "
                                  "библиотеки, которыми человек пользуется.",
        "helpdesk.logins": "Последние входы и неудачные попытки",
        "helpdesk.logins.none": "За последние {days} дней входов не было.",
        "helpdesk.logins.when": "Когда",
        "helpdesk.logins.outcome": "Результат",
        "helpdesk.logins.account": "Учётная запись",
        "helpdesk.logins.client": "Приложение",
        "helpdesk.logins.ip": "IP-адрес",
        "helpdesk.logins.direct": "сам Campus ID",
        "helpdesk.login.succeeded": "вход выполнен",
        "helpdesk.login.failed": "неверный пароль или отказ",
        "helpdesk.login.throttled": "задержан ограничением",
        "helpdesk.login.refused_locked": "отказ: заблокирован",
        "helpdesk.throttle": "Ограничение попыток входа",
        "helpdesk.throttle.free": "{account}: без ограничения",
        "helpdesk.throttle.held": "{account}: вход задержан до {until}",
        "helpdesk.will.unthrottle_held": "Вход для {account} задержан до {until}: неудачные "
                                         "попытки будут забыты, войти можно будет сразу.",
        "helpdesk.will.unthrottle_free": "Вход для {account} сейчас не задержан; неудачные "
                                         "попытки будут забыты.",
        "helpdesk.deliveries": "Неудавшиеся доставки",
        "helpdesk.deliveries.none": "Неудавшихся доставок нет.",
        "helpdesk.deliveries.line": "Задание {id}: {kind} — {resource} → {connector}, попыток: "
                                    "{attempts}",
        "helpdesk.deliveries.failed": "не удалось: {error}",
        "helpdesk.deliveries.retrying": "следующая попытка в {at}: {error}",
        "helpdesk.will.retry": "Задание {id} ({kind} — {resource} → {connector}, попыток: "
                               "{attempts}) будет отправлено снова сейчас: то же сообщение с "
                               "тем же ключом идемпотентности.",
        "helpdesk.will.retry_error": "Последняя ошибка: {error}",
        "helpdesk.job.grant": "выдача",
        "helpdesk.job.revoke": "отзыв",
        "helpdesk.done.link": "Учётная запись привязана.",
        "helpdesk.done.card": "Выдана новая кампусная карта; старая больше не действует.",
        "helpdesk.done.retry": "Доставка отправлена снова.",
        "helpdesk.done.unthrottle": "Ограничение входа для учётной записи снято.",
        "helpdesk.error.reason_required": "Укажите причину.",
        "helpdesk.error.reason_too_long": "Причина длиннее {n} символов.",
        "helpdesk.error.account_key": "Учётная запись записывается как организация:логин, "
                                      "например tsu:petrov.",
        "helpdesk.error.no_account": "Учётная запись {account} ещё ни разу не входила.",
        "helpdesk.error.several_accounts": "Учётных записей с именем {account} несколько.",
        "helpdesk.error.already_linked": "{account} уже привязана здесь.",
        "helpdesk.error.not_linked": "{account} не привязана к этой кампусной записи.",
        "helpdesk.error.last_account": "Последнюю учётную запись нельзя отвязать.",
        "helpdesk.error.changed_meanwhile": "Учётная запись тем временем изменилась; "
                                            "попробуйте ещё раз.",
        "helpdesk.error.proposal_decided": "Предложение {id} уже рассмотрено.",
        "helpdesk.error.merged": "Эта кампусная запись объединена с другой.",
        "helpdesk.error.no_account_chosen": "Выберите хотя бы одну учётную запись.",
        "helpdesk.error.one_must_stay": "Хотя бы одна учётная запись должна остаться в этой "
                                        "кампусной записи.",
        "helpdesk.error.no_undo": "Это изменение уже нельзя отменить.",
        "helpdesk.error.already_locked": "Эта кампусная запись уже заблокирована.",
        "helpdesk.error.not_locked": "Эта кампусная запись не заблокирована.",
        "helpdesk.error.no_card": "У человека нет действующей кампусной карты для "
                                  "перевыпуска.",
        "helpdesk.error.no_job": "Задания доставки {id} нет.",
        "helpdesk.error.job_not_failed": "Задание доставки {id} не завершилось ошибкой: "
                                         "повторить можно только неудавшееся.",
        "helpdesk.error.job_superseded": "Задание доставки {id} заменено более новым, {newer}, "
                                         "для того же человека, ресурса и коннектора: отправить "
                                         "его сейчас значило бы доставить устаревшее состояние.",
        "helpdesk.error.conflict": "Изменение противоречит текущему состоянию.",
        "helpdesk.error.not_found": "Не найдено.",
        "helpdesk.error.invalid": "Поле заполнено неверно.",
        "helpdesk.error.forbidden": "Вам это действие не разрешено.",
        "helpdesk.error.other": "Что-то пошло не так. Попробуйте позже.",
    },
}


def register() -> None:
    for language, texts in TEXTS.items():
        MESSAGES[language].update(texts)
