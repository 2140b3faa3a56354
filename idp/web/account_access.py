""""What you can use" on My Campus ID: each resource the person's grants give now (active, or
in grace), its name in the page's language, who provides it (a member organization or the
consortium), until when, and why (each policy and the account through which it holds).
Read-only: the grants are those ``idp.provisioning.grants`` keeps. Its Russian and English
texts are added to ``idp.web.i18n`` when this module is imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from idp.provisioning.explain import grants_for
from idp.settings.model import Settings
from idp.storage.identities import Identity
from idp.storage.provisioning import GrantState
from idp.web.i18n import current_language, translate
from idp.web.messages import MESSAGES

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "access.heading": "What you can use",
        "access.intro": "Your universities give you these resources of the consortium.",
        "access.none": "Nothing at the moment: no access policy applies to your accounts.",
        "access.provided_by": "Provided by {provider}",
        "access.consortium": "the consortium",
        "access.open": "No end date while you meet the conditions",
        "access.until": "Until {date}: the conditions no longer hold, this is the grace period",
        "access.because": "Why: {reasons}",
        "access.reason": "policy “{policy}” through {account}",
    },
    "ru": {
        "access.heading": "Чем вы можете пользоваться",
        "access.intro": "Эти ресурсы консорциума доступны вам благодаря вашим университетам.",
        "access.none": "Сейчас ничего: ни одно правило доступа не относится к вашим учётным записям.",
        "access.provided_by": "Предоставляет: {provider}",
        "access.consortium": "консорциум",
        "access.open": "Без срока, пока вы отвечаете условиям",
        "access.until": "До {date}: условия больше не выполняются, идёт льготный период",
        "access.because": "Основание: {reasons}",
        "access.reason": "правило «{policy}» через {account}",
    },
}
for _language, _texts in TEXTS.items():
    MESSAGES[_language].update(_texts)


@dataclass(frozen=True)
class Usable:
    """One row of the section, in the page's language."""

    resource: str
    name: str
    provider: str | None  # the organization's name; None: the consortium
    until: str | None  # the grace end (YYYY-MM-DD); None: open
    because: tuple[tuple[str, str], ...]  # (policy, user@scope)

    @property
    def reasons(self) -> str:
        return "; ".join(translate("access.reason", policy=policy, account=account)
                         for policy, account in self.because)


def what_you_can_use(db: Session, settings: Settings, identity: Identity) -> list[Usable] | None:
    """None (the section is left out) when the consortium configured no resource."""
    if not settings.access.resources:
        return None
    russian = current_language() == "ru"
    rows = []
    for grant in grants_for(db, identity):
        resource = settings.access.resources.get(grant.resource)
        if grant.state == GrantState.ENDED.value or resource is None:
            continue
        organization = settings.organizations.get(resource.provider)
        provider = None
        if organization is not None:
            provider = organization.name_ru if russian and organization.name_ru else organization.name
        elif resource.provider:
            provider = resource.provider
        rows.append(Usable(
            resource=resource.id,
            name=resource.name_ru if russian and resource.name_ru else resource.name,
            provider=provider,
            until=_day(grant.until) if grant.state == GrantState.GRACE.value else None,
            because=tuple((r["policy"], r["account"]) for r in grant.because)))
    return rows


def _day(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d") if moment is not None else None
