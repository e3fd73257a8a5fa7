"""Message templates: managers and admins write them, everyone reads and previews them."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from core.errors import AccessDenied
from core.logs import entity_log
from inbox.models import Template
from inbox.services.messages import render_template
from inbox.templating import template_variables
from salesreps.selectors import is_manager_or_admin

log = entity_log("templates")
TEMPLATE_FIELDS = frozenset({"name", "body", "translations", "whatsapp_name", "whatsapp_language"})


def _require_writer(user) -> None:
    if not is_manager_or_admin(user):
        raise PermissionDenied("only managers and admins write templates")


def _check(template: Template) -> None:
    template_variables(template.body)
    if not isinstance(template.translations, dict):
        raise ValueError("translations must map a language code to a text")
    for language, text in template.translations.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"translation {language!r} must be a non-empty text")
        try:
            template_variables(text)
        except ValueError as exc:
            raise ValueError(f"translation {language!r}: {exc}") from None
    clash = Template.objects.filter(name=template.name).exclude(pk=template.pk).exists()
    if clash:
        raise ValueError(f"a template named {template.name!r} already exists")
    template.full_clean(validate_unique=False)


def _save(template: Template) -> Template:
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:  # a concurrent create took the name
        raise ValueError(f"a template named {template.name!r} already exists") from None
    return template


@transaction.atomic
def template_create(*, user, fields: dict) -> Template:
    _require_writer(user)
    unknown = set(fields) - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"unknown template fields: {', '.join(sorted(unknown))}")
    template = Template(**fields)
    _check(template)
    _save(template)
    log.info("template created", template=template.id, by_user=user.id)
    return template


@transaction.atomic
def template_update(*, user, template_id: int, fields: dict) -> Template:
    _require_writer(user)
    unknown = set(fields) - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"unknown template fields: {', '.join(sorted(unknown))}")
    template = Template.objects.select_for_update().filter(pk=template_id).first()
    if template is None:
        raise AccessDenied(f"template {template_id} not found")
    for name, value in fields.items():
        setattr(template, name, value)
    _check(template)
    _save(template)
    log.info("template updated", template=template.id, by_user=user.id)
    return template


@transaction.atomic
def template_delete(*, user, template_id: int) -> None:
    """Refused while a campaign uses it; sent messages keep their text and lose only the link."""
    _require_writer(user)
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise AccessDenied(f"template {template_id} not found")
    try:
        with transaction.atomic():
            template.delete()
    except ProtectedError:
        raise ValueError(f"template {template.name!r} is used by a campaign: change the campaign first") from None
    log.info("template deleted", template=template_id, by_user=user.id)


def template_preview(*, template: Template, variables: dict, language: str = "") -> tuple[str, list[str]]:
    """The text as a contact speaking `language` would get it, and the variables still missing."""

    template_variables(template.translations.get(language) or template.body)  # malformed text: a clear 400
    return render_template(template, variables, language)
