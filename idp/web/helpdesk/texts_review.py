"""Russian and English texts of the helpdesk console's review queue, added to
``idp.web.i18n`` when the blueprint is registered."""

from __future__ import annotations

from idp.web.messages import MESSAGES

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "helpdesk.review.nav": "Review queue ({n})",
        "helpdesk.review.title": "Review queue",
        "helpdesk.review.total": "Open proposals: {n}. The oldest come first.",
        "helpdesk.review.empty": "No open proposals.",
        "helpdesk.review.heading": "Proposal {id}: {account}",
        "helpdesk.review.created": "Raised {at}.",
        "helpdesk.review.rule": "Rule “{rule}”.",
        "helpdesk.review.rule_gone": "(This rule is no longer configured.)",
        "helpdesk.review.why.propose_rule": "The rule only ever proposes.",
        "helpdesk.review.why.several_matches": "The rule matched more than one other person.",
        "helpdesk.review.why.merge_required": "Both sides already had logins of their own: "
                                              "joining them is a merge.",
        "helpdesk.review.why.staff_role": "One side holds a staff role: never linked "
                                          "automatically.",
        "helpdesk.review.why.untrusted_directory": "The account's organization does not trust "
                                                   "the other side's directories.",
        "helpdesk.review.still_matches": "The values still match today.",
        "helpdesk.review.no_longer_matches": "The values no longer match: one side's directory "
                                             "changed them since.",
        "helpdesk.review.evidence": "What the rule compared",
        "helpdesk.review.claim": "Value",
        "helpdesk.review.ours": "This account",
        "helpdesk.review.theirs": "The other person",
        "helpdesk.review.claim.snils": "SNILS",
        "helpdesk.review.claim.birthdate": "Birth date",
        "helpdesk.review.claim.family_name": "Family name",
        "helpdesk.review.claim.given_name": "Given name",
        "helpdesk.review.claim.middle_name": "Patronymic",
        "helpdesk.review.masked": "hidden: never stored",
        "helpdesk.review.masked_note": "A SNILS or a birth date is compared by a keyed "
                                       "fingerprint and never stored, so nobody can read it "
                                       "here.",
        "helpdesk.review.joining": "The account and its campus identity",
        "helpdesk.review.candidate": "Would join",
        "helpdesk.review.open_person": "Open the person's page",
        "helpdesk.review.approve_needs_all": "Approving merges accounts of another "
                                             "organization: it needs the consortium helpdesk.",
        "helpdesk.review.gone": "This proposal is not open: it was decided meanwhile, or it "
                                "is not yours to see.",
        "helpdesk.review.no_decision": "Please choose approve or reject.",
        "helpdesk.review.pages": "Pages of the queue",
        "helpdesk.review.first": "First page",
        "helpdesk.review.next": "Next 50",
    },
    "ru": {
        "helpdesk.review.nav": "Очередь на проверку ({n})",
        "helpdesk.review.title": "Очередь на проверку",
        "helpdesk.review.total": "Открытых предложений: {n}. Сначала самые старые.",
        "helpdesk.review.empty": "Открытых предложений нет.",
        "helpdesk.review.heading": "Предложение {id}: {account}",
        "helpdesk.review.created": "Создано {at}.",
        "helpdesk.review.rule": "Правило «{rule}».",
        "helpdesk.review.rule_gone": "(Этого правила больше нет в настройках.)",
        "helpdesk.review.why.propose_rule": "Правило только предлагает, само не связывает.",
        "helpdesk.review.why.several_matches": "Правило совпало больше чем с одним человеком.",
        "helpdesk.review.why.merge_required": "У обеих сторон уже были свои входы: связать "
                                              "их значит объединить две записи.",
        "helpdesk.review.why.staff_role": "У одной из сторон есть роль сотрудника: такие "
                                          "записи не связываются автоматически.",
        "helpdesk.review.why.untrusted_directory": "Организация учётной записи не доверяет "
                                                   "каталогам другой стороны.",
        "helpdesk.review.still_matches": "Значения совпадают и сегодня.",
        "helpdesk.review.no_longer_matches": "Значения больше не совпадают: каталог одной из "
                                             "сторон их изменил.",
        "helpdesk.review.evidence": "Что сравнило правило",
        "helpdesk.review.claim": "Значение",
        "helpdesk.review.ours": "Эта учётная запись",
        "helpdesk.review.theirs": "Другой человек",
        "helpdesk.review.claim.snils": "СНИЛС",
        "helpdesk.review.claim.birthdate": "Дата рождения",
        "helpdesk.review.claim.family_name": "Фамилия",
        "helpdesk.review.claim.given_name": "Имя",
        "helpdesk.review.claim.middle_name": "Отчество",
        "helpdesk.review.masked": "скрыто: не хранится",
        "helpdesk.review.masked_note": "СНИЛС и дата рождения сравниваются по ключевому "
                                       "отпечатку и не хранятся, поэтому их здесь не увидит "
                                       "никто.",
        "helpdesk.review.joining": "Учётная запись и её кампусная запись",
        "helpdesk.review.candidate": "Присоединится к",
        "helpdesk.review.open_person": "Открыть карточку человека",
        "helpdesk.review.approve_needs_all": "Одобрение объединит учётные записи другой "
                                             "организации: это может сделать только поддержка "
                                             "консорциума.",
        "helpdesk.review.gone": "Это предложение уже не открыто: его решили раньше, или оно "
                                "вам не видно.",
        "helpdesk.review.no_decision": "Выберите: одобрить или отклонить.",
        "helpdesk.review.pages": "Страницы очереди",
        "helpdesk.review.first": "Первая страница",
        "helpdesk.review.next": "Следующие 50",
    },
}


def register() -> None:
    for language, texts in TEXTS.items():
        MESSAGES[language].update(texts)
