"""Reads shared by views, consumers and services: who may see what."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import AccessDenied
from inbox.models import ActivityRequest, Contact, ContactIdentity, Conversation, Message, Template
from inbox.rules import ReplyWindow, reply_window
from salesreps.selectors import is_manager_or_admin, managed_team_ids, rep_of, reps_for, team_watchers


def unassigned_team_q(team_ids) -> Q:
    """Unassigned conversations of these teams: the contact's team, else (a contact of no team) the
    channel's. An assigned conversation belongs to its rep's team."""
    return Q(rep__isnull=True) & (Q(contact__team_id__in=team_ids)
                                  | Q(contact__team_id__isnull=True, channel__team_id__in=team_ids))


def conversation_scope(user) -> Q | None:
    """The Q that limits conversations to what `user` may see; None means nothing. Everyone sees
    their own rep's; a manager also every conversation of the teams they manage (managed_team_ids):
    their reps' and the unassigned ones of those teams."""
    teams = managed_team_ids(user)
    if teams is None:
        return Q()
    rep = rep_of(user) if user and user.is_authenticated and user.is_active else None
    if rep is None and not teams:
        return None
    scope = Q(rep=rep) if rep is not None else Q(pk__in=[])
    if teams:
        scope |= Q(rep__team_id__in=teams) | unassigned_team_q(teams)
    return scope


def conversations_for(user) -> QuerySet[Conversation]:
    scope = conversation_scope(user)
    if scope is None:
        return Conversation.objects.none()
    return Conversation.objects.filter(scope)


def messages_for(user) -> QuerySet[Message]:
    scope = conversation_scope(user)
    if scope is None:
        return Message.objects.none()
    return Message.objects.filter(conversation__in=Conversation.objects.filter(scope).values("id"))


def team_contacts(team_ids: frozenset[int] | None) -> QuerySet[Contact]:
    """The contacts that belong to these teams (None: every contact): what their managers target."""
    return Contact.objects.all() if team_ids is None else Contact.objects.filter(team_id__in=team_ids)


def contacts_for(user) -> QuerySet[Contact]:
    """Contacts with a conversation the user may see, those owned by the user's rep, and those of
    the teams the user manages (team_contacts); admins see all."""
    scope = conversation_scope(user)
    if scope is None:
        return Contact.objects.none()
    teams = managed_team_ids(user)
    if teams is None:
        return Contact.objects.all()
    rep = rep_of(user)
    visible = Q(id__in=Conversation.objects.filter(scope).values("contact_id"))
    if rep is not None:
        visible |= Q(owner=rep)
    if teams:
        visible |= Q(team_id__in=teams)
    return Contact.objects.filter(visible)


def contact_list(*, user, search: str = "", tag: str = "", owner_id: int | None = None) -> QuerySet[Contact]:
    qs = contacts_for(user).select_related("owner").prefetch_related(
        Prefetch("identities", queryset=ContactIdentity.objects.select_related("channel").order_by("id")))
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(phone__icontains=search) | Q(email__icontains=search))
    if tag:
        qs = qs.filter(tags__contains=[tag])
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs


def contact_get(*, user, contact_id: int) -> Contact:
    contact = contact_list(user=user).filter(pk=contact_id).first()
    if contact is None:
        raise AccessDenied(f"contact {contact_id} not found")
    return contact


def conversation_list(*, user, status: str | None = None, channel_id: int | None = None,
                      rep_id: int | None = None, unassigned: bool = False, unread: bool | None = None,
                      search: str = "") -> QuerySet[Conversation]:
    """The user's conversations, narrowed by already-parsed filters (they can only narrow the scope)."""
    qs = conversations_for(user).select_related("contact", "channel", "rep")
    if status is not None:
        qs = qs.filter(status=status)
    if channel_id is not None:
        qs = qs.filter(channel_id=channel_id)
    if unassigned:
        qs = qs.filter(rep__isnull=True)
    elif rep_id is not None:
        qs = qs.filter(rep_id=rep_id)
    if unread is True:
        qs = qs.filter(unread_count__gt=0)
    elif unread is False:
        qs = qs.filter(unread_count=0)
    if search:
        qs = qs.filter(Q(contact__name__icontains=search) | Q(contact__phone__icontains=search)
                       | Q(contact__email__icontains=search))
    return qs


def conversation_counts(*, user) -> dict:
    """For the page title and the filters: unread conversations and messages, and conversations per
    status, in the user's scope (one query)."""
    counts = conversations_for(user).aggregate(
        unread_conversations=Count("id", filter=Q(unread_count__gt=0)),
        unread_messages=Sum("unread_count", default=0),
        **{status: Count("id", filter=Q(status=status)) for status in Conversation.Status.values},
    )
    return {"unread_conversations": counts.pop("unread_conversations"), "unread_messages": counts.pop("unread_messages"),
            "by_status": counts}


def conversation_messages(*, user, conversation_id: int) -> QuerySet[Message]:
    """The messages of one conversation in the user's scope; AccessDenied (404) when it is not."""
    if not conversations_for(user).filter(pk=conversation_id).exists():
        raise AccessDenied(f"conversation {conversation_id} not found")
    return Message.objects.filter(conversation_id=conversation_id)


def message_search(*, user, q: str) -> QuerySet[Message]:
    """Full-text search over the bodies of the user's messages (GIN index on Message.search, kept by a
    trigger with the 'simple' configuration; the query must use the same one)."""
    return messages_for(user).filter(search=SearchQuery(q, config="simple", search_type="websearch"))


def template_list() -> QuerySet[Template]:
    return Template.objects.all()


def template_get(*, template_id: int) -> Template:
    """Every signed-in user reads templates; AccessDenied (404) for an unknown id."""
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise AccessDenied(f"template {template_id} not found")
    return template


def audience_user_ids(conversation: Conversation) -> list[int]:
    """Users an event about this conversation is addressed to, decided now, from the database."""
    return audiences_of([conversation])[conversation.id]


def audiences_of(conversations: Iterable[Conversation]) -> dict[int | None, list[int]]:
    """audience_user_ids of many conversations (their `rep` loaded) in two queries at most, keyed by
    id: its rep, the managers of its team (conversation_scope's rule: the rep's team, or for an
    unassigned one its contact's, else its channel's) and every admin. Set-based writers call it
    once per batch; it runs for every inbound message."""
    conversations = list(conversations)
    team_of: dict[int | None, int | None] = {c.id: c.rep.team_id for c in conversations if c.rep_id}
    unassigned = [c.id for c in conversations if not c.rep_id and c.id is not None]
    if unassigned:
        for conversation_id, contact_team, channel_team in Conversation.objects.filter(pk__in=unassigned).values_list(
                "id", "contact__team_id", "channel__team_id"):
            team_of[conversation_id] = contact_team if contact_team is not None else channel_team
    admins, managers = team_watchers(set(team_of.values()))
    audiences = {}
    for c in conversations:
        users = admins | managers.get(team_of.get(c.id), set())
        if c.rep_id:
            users = users | {c.rep.user_id}
        audiences[c.id] = sorted(users)
    return audiences


def team_audience(team_id: int | None) -> list[int]:
    """The audience of the team's unassigned conversations: its managers and every admin."""
    admins, managers = team_watchers([team_id])
    return sorted(admins | managers.get(team_id, set()))


@dataclass(frozen=True)
class DuplicateGroup:
    """Contacts that look like one person: they share `key` (phone or e-mail) `value`; oldest first."""

    key: str
    value: str
    contact_ids: tuple[int, ...]


def duplicate_groups(*, scope: QuerySet[Contact] | None = None) -> list[DuplicateGroup]:
    """Groups of contacts sharing an E.164 phone or an e-mail address (ignoring case); groups that
    share a member are one group, so merging each into its oldest never meets a merged contact."""
    contacts = Contact.objects.all() if scope is None else scope
    found = [("phone", value, ids) for value, ids in contacts.exclude(phone="").values("phone")
             .annotate(n=Count("id"), ids=ArrayAgg("id", ordering="id")).filter(n__gt=1).values_list("phone", "ids")]
    found += [("email", value, ids) for value, ids in contacts.exclude(email="").annotate(address=Lower("email"))
              .values("address").annotate(n=Count("id"), ids=ArrayAgg("id", ordering="id")).filter(n__gt=1)
              .values_list("address", "ids")]
    groups: list[tuple[str, str, set[int]]] = []
    for key, value, ids in found:
        touching = [g for g in groups if g[2] & set(ids)]
        members = set(ids).union(*(g[2] for g in touching))
        groups = [g for g in groups if g not in touching]
        first = touching[0] if touching else (key, value, set())
        groups.append((first[0], first[1], members))
    return sorted((DuplicateGroup(k, v, tuple(sorted(m))) for k, v, m in groups), key=lambda g: g.contact_ids)


def contact_duplicates(*, user) -> list[DuplicateGroup]:
    """Managers and admins: the duplicate groups among the contacts they see."""
    if not is_manager_or_admin(user):
        raise PermissionDenied("only managers and admins merge contacts")
    return duplicate_groups(scope=contacts_for(user))


def contact_timeline(*, user, contact_id: int) -> QuerySet[Message]:
    """The contact's messages on every channel, in the conversations the user may see."""
    if not contacts_for(user).filter(pk=contact_id).exists():
        raise AccessDenied(f"contact {contact_id} not found")
    return messages_for(user).filter(conversation__contact_id=contact_id).select_related("channel")


def contact_channels(*, user, contact_id: int) -> list[dict]:
    """The channels a person is known on, each with its latest conversation the user may see."""
    conversations = {}
    for conversation_id, channel_id, status in (conversations_for(user).filter(contact_id=contact_id)
                                                .order_by("created_at", "id").values_list("id", "channel_id", "status")):
        conversations[channel_id] = (conversation_id, status)
    out = []
    for identity in ContactIdentity.objects.filter(contact_id=contact_id).select_related("channel").order_by("id"):
        conversation_id, status = conversations.get(identity.channel_id, (None, None))
        out.append({"channel_id": identity.channel_id, "channel_kind": identity.channel.kind, "external_id": identity.external_id,
                    "conversation_id": conversation_id, "conversation_status": status})
    return out


def last_inbound_on_channels(*, contact_ids: Iterable[int], channel_ids: Iterable[int]) -> dict[tuple[int, int], datetime | None]:
    """The person's last message per (contact, channel), over all their conversations on that channel
    (a resolved one and the new one alike): the platforms' 24-hour windows are per person and channel."""
    rows = (Conversation.objects.filter(contact_id__in=set(contact_ids), channel_id__in=set(channel_ids))
            .values("contact_id", "channel_id").annotate(last=Max("last_inbound_at")))
    return {(r["contact_id"], r["channel_id"]): r["last"] for r in rows}


def conversation_reply_window(conversation: Conversation, *, now: datetime | None = None) -> ReplyWindow:
    """WhatsApp's 24-hour window for replying in this conversation (its channel loaded), from the
    person's last message on the channel in any of their conversations."""
    last = last_inbound_on_channels(contact_ids=[conversation.contact_id], channel_ids=[conversation.channel_id])
    return reply_window(channel_kind=conversation.channel.kind, now=now or timezone.now(),
                        last_inbound_at=last.get((conversation.contact_id, conversation.channel_id)))


def activity_requests_for(user) -> QuerySet[ActivityRequest]:
    """Activity requests of the reps the user may see: their own, their team's, or all (admin)."""
    return ActivityRequest.objects.filter(rep_channel__rep__in=reps_for(user))
