"""Russian and English texts of the helpdesk console's merge, split and undo, added to
``idp.web.i18n`` when the blueprint is registered."""

from __future__ import annotations

from idp.web.messages import MESSAGES

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "helpdesk.action.merge": "Merge with another person",
        "helpdesk.action.split": "Split off accounts",
        "helpdesk.action.undo": "Undo",
        "helpdesk.merge.title": "Merge with another person",
        "helpdesk.merge.find": "Find the other person: they join this campus identity "
                               "({name}), which keeps its sub.",
        "helpdesk.merge.compare": "Compare",
        "helpdesk.merge.heading": "Merge two campus identities",
        "helpdesk.merge.keeps": "Stays (keeps its sub)",
        "helpdesk.merge.joins": "Joins it (its sub becomes an alias)",
        "helpdesk.merge.why": "A merge keeps the sub and campus ID of the person whose page "
                              "it starts from; the other sub becomes an alias that still "
                              "resolves to the same person, so applications that know either "
                              "keep working.",
        "helpdesk.merge.swap": "Keep the other person's sub instead",
        "helpdesk.merge.consents": "Connected services",
        "helpdesk.merge.access": "Access",
        "helpdesk.merge.card": "Campus card",
        "helpdesk.merge.card_active": "active",
        "helpdesk.merge.card_none": "none",
        "helpdesk.merge.none": "none",
        "helpdesk.merge.after": "After the merge",
        "helpdesk.merge.after_sub": "sub {sub} and campus ID {campus_id} stay; {absorbed} "
                                    "becomes an alias of them.",
        "helpdesk.merge.after_accounts": "Accounts: {accounts}.",
        "helpdesk.merge.after_primary": "Primary account: {account}.",
        "helpdesk.merge.after_consents": "Connected services (one per service, scopes joined): "
                                         "{clients}.",
        "helpdesk.merge.after_access": "Access, recomputed over every account: {resources}; "
                                       "the joining person's own grants end, and connectors "
                                       "are told of each change.",
        "helpdesk.merge.after_card": "The joining person's campus card stops working.",
        "helpdesk.merge.after_sessions": "Sessions and tokens of the joining person move over.",
        "helpdesk.merge.after_proposals": "Open proposals between the two are closed as "
                                          "approved: {ids}.",
        "helpdesk.merge.told": "Applications told of the merge: {clients}.",
        "helpdesk.merge.connectors": "Connectors told of the access that changes: {names}.",
        "helpdesk.split.title": "Split off accounts",
        "helpdesk.split.choose": "Accounts that move together to a new campus identity (at "
                                 "least one stays here)",
        "helpdesk.split.next": "Show what will change",
        "helpdesk.split.will": "{accounts} move to one new campus identity with a new sub and "
                               "campus ID; each move is recorded on its own in the audit "
                               "trail; applications are told; tokens obtained through their "
                               "sessions are revoked; access is recomputed for both.",
        "helpdesk.split.stays": "Stay here: {accounts}.",
        "helpdesk.split.one_stays": "At least one account must stay with the identity.",
        "helpdesk.undo.title": "Undo event {id}",
        "helpdesk.undo.link_back": "{accounts} come back to this campus identity ({sub}); the "
                                   "identity the unlink made ({other}) is merged into it, its "
                                   "sub an alias; applications are told.",
        "helpdesk.undo.split_off": "{accounts} move off {sub} together to a new campus "
                                   "identity with a new sub (the sub they had before stays an "
                                   "alias of {sub}); applications are told; access is "
                                   "recomputed.",
        "helpdesk.undo.of": "undoes event {id}",
        "helpdesk.undo.cannot": "This change cannot be undone: {why}",
        "helpdesk.undo.refusal.not_recorded": "it was recorded before undo existed.",
        "helpdesk.undo.refusal.gone": "a campus identity it involved was merged since.",
        "helpdesk.undo.refusal.changed": "accounts have moved since.",
        "helpdesk.undo.refusal.undone": "it has been undone.",
        "helpdesk.undo.refusal.scope": "it involves another organization's account: the "
                                       "consortium helpdesk can undo it.",
        "helpdesk.done.merge": "The two campus identities are merged.",
        "helpdesk.done.split": "The accounts are split off to a new campus identity.",
        "helpdesk.done.undo": "The change is undone.",
    },
    "ru": {
        "helpdesk.action.merge": "Объединить с другим человеком",
        "helpdesk.action.split": "Отделить учётные записи",
        "helpdesk.action.undo": "Отменить",
        "helpdesk.merge.title": "Объединить с другим человеком",
        "helpdesk.merge.find": "Найдите второго человека: он присоединится к этой кампусной "
                               "записи ({name}), и её sub останется прежним.",
        "helpdesk.merge.compare": "Сравнить",
        "helpdesk.merge.heading": "Объединение двух кампусных записей",
        "helpdesk.merge.keeps": "Остаётся (сохраняет sub)",
        "helpdesk.merge.joins": "Присоединяется (его sub станет псевдонимом)",
        "helpdesk.merge.why": "При объединении сохраняются sub и кампусный номер человека, с "
                              "карточки которого оно начато; второй sub становится "
                              "псевдонимом и по-прежнему указывает на того же человека, так "
                              "что приложения, знающие любой из них, продолжают работать.",
        "helpdesk.merge.swap": "Сохранить sub второго человека",
        "helpdesk.merge.consents": "Подключённые сервисы",
        "helpdesk.merge.access": "Доступ",
        "helpdesk.merge.card": "Кампусная карта",
        "helpdesk.merge.card_active": "действует",
        "helpdesk.merge.card_none": "нет",
        "helpdesk.merge.none": "нет",
        "helpdesk.merge.after": "После объединения",
        "helpdesk.merge.after_sub": "sub {sub} и кампусный номер {campus_id} сохранятся; "
                                    "{absorbed} станет их псевдонимом.",
        "helpdesk.merge.after_accounts": "Учётные записи: {accounts}.",
        "helpdesk.merge.after_primary": "Основная учётная запись: {account}.",
        "helpdesk.merge.after_consents": "Подключённые сервисы (по одному на сервис, "
                                         "разрешения объединены): {clients}.",
        "helpdesk.merge.after_access": "Доступ, пересчитанный по всем учётным записям: "
                                       "{resources}; собственные доступы присоединяемого "
                                       "закончатся, коннекторы узнают о каждом изменении.",
        "helpdesk.merge.after_card": "Кампусная карта присоединяемого перестанет действовать.",
        "helpdesk.merge.after_sessions": "Сеансы и токены присоединяемого перейдут к "
                                         "остающемуся.",
        "helpdesk.merge.after_proposals": "Открытые предложения между ними будут закрыты как "
                                          "одобренные: {ids}.",
        "helpdesk.merge.told": "Приложения, которые получат уведомление: {clients}.",
        "helpdesk.merge.connectors": "Коннекторы, которые узнают об изменениях доступа: "
                                     "{names}.",
        "helpdesk.split.title": "Отделить учётные записи",
        "helpdesk.split.choose": "Учётные записи, которые вместе перейдут в новую кампусную "
                                 "запись (хотя бы одна останется здесь)",
        "helpdesk.split.next": "Показать, что изменится",
        "helpdesk.split.will": "{accounts} перейдут в одну новую кампусную запись с новым sub "
                               "и кампусным номером; каждый переход записывается в журнал "
                               "отдельно; приложения будут уведомлены; токены, полученные "
                               "через их сеансы, будут отозваны; доступ будет пересчитан для "
                               "обеих.",
        "helpdesk.split.stays": "Останутся здесь: {accounts}.",
        "helpdesk.split.one_stays": "Хотя бы одна учётная запись должна остаться в этой "
                                    "кампусной записи.",
        "helpdesk.undo.title": "Отмена события {id}",
        "helpdesk.undo.link_back": "{accounts} вернутся в эту кампусную запись ({sub}); "
                                   "запись, созданная при отвязке ({other}), будет "
                                   "присоединена к ней, её sub станет псевдонимом; приложения "
                                   "будут уведомлены.",
        "helpdesk.undo.split_off": "{accounts} вместе перейдут из {sub} в новую кампусную "
                                   "запись с новым sub (прежний их sub останется псевдонимом "
                                   "{sub}); приложения будут уведомлены; доступ будет "
                                   "пересчитан.",
        "helpdesk.undo.of": "отменяет событие {id}",
        "helpdesk.undo.cannot": "Это изменение нельзя отменить: {why}",
        "helpdesk.undo.refusal.not_recorded": "оно записано до того, как появилась отмена.",
        "helpdesk.undo.refusal.gone": "затронутая им кампусная запись с тех пор объединена с "
                                      "другой.",
        "helpdesk.undo.refusal.changed": "с тех пор учётные записи перемещались.",
        "helpdesk.undo.refusal.undone": "оно уже отменено.",
        "helpdesk.undo.refusal.scope": "оно затрагивает учётную запись другой организации: "
                                       "отменить его может поддержка консорциума.",
        "helpdesk.done.merge": "Две кампусные записи объединены.",
        "helpdesk.done.split": "Учётные записи отделены в новую кампусную запись.",
        "helpdesk.done.undo": "Изменение отменено.",
    },
}


def register() -> None:
    for language, texts in TEXTS.items():
        MESSAGES[language].update(texts)
