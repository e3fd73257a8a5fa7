"""No path locks rows it does not name: a `select_for_update` that also loads related rows
(select_related) locks only its own table's row (`of=("self",)`), so another transaction can still
lock the channel, contact, rep or user meanwhile (PITFALLS.md)."""
from datetime import date, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.utils import OperationalError
from django.utils import timezone

from core.models import WsTicket
from core.ws_auth import ticket_issue, ticket_redeem
from inbox.models import Contact, Conversation
from inbox.services import conversations as conversation_services
from inbox.tests.factories import make_channel, make_conversation, make_rep
from salesreps.models import Channel, SalesRep, WorkingShift
from salesreps.services import shifts as shift_services
from salesreps.services.shifts import shift_create, shift_update

pytestmark = [pytest.mark.django_db(transaction=True)]


def _lockable(model, pk) -> bool:
    """Whether another connection can lock the row FOR UPDATE right now, without waiting."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE {model._meta.pk.column} = %s FOR UPDATE NOWAIT", [pk])
        return True
    except OperationalError as error:
        assert "could not obtain lock" in str(error), error
        return False
    finally:
        other.close()


def test_waking_a_snoozed_conversation_locks_the_conversation_only(monkeypatch):
    rep = make_rep()
    conversation = make_conversation(rep, make_channel())
    Conversation.objects.filter(pk=conversation.pk).update(status="snoozed", snoozed_until=timezone.now() - timedelta(minutes=1))
    seen = {}
    emit_updated = conversation_services.conversation_emit_updated

    def while_locked(c):
        seen.update(conversation=_lockable(Conversation, c.id), channel=_lockable(Channel, c.channel_id),
                    contact=_lockable(Contact, c.contact_id), rep=_lockable(SalesRep, c.rep_id))
        emit_updated(c)

    monkeypatch.setattr(conversation_services, "conversation_emit_updated", while_locked)
    assert conversation_services.conversations_wake_snoozed() == 1
    assert Conversation.objects.get(pk=conversation.pk).status == "open"
    assert seen == {"conversation": False, "channel": True, "contact": True, "rep": True}


def test_updating_a_shift_locks_the_shift_only(monkeypatch):
    rep = make_rep()
    shift = shift_create(rep=rep, date=date(2030, 6, 3), start_time=time(9), end_time=time(17))
    seen = {}
    save = shift_services._shift_save

    def while_locked(s):
        seen.update(shift=_lockable(WorkingShift, s.id), rep=_lockable(SalesRep, s.rep_id))
        save(s)

    monkeypatch.setattr(shift_services, "_shift_save", while_locked)
    shift_update(shift=shift, end_time=time(18))
    assert seen == {"shift": False, "rep": True}


def test_redeeming_a_ticket_locks_the_ticket_only(monkeypatch):
    user = make_rep().user
    ticket = ticket_issue(user=user)
    seen = {}
    save = WsTicket.save

    def while_locked(self, *args, **kwargs):
        seen.update(ticket=_lockable(WsTicket, self.pk), user=_lockable(get_user_model(), self.user_id))
        save(self, *args, **kwargs)

    monkeypatch.setattr(WsTicket, "save", while_locked)
    assert ticket_redeem(key=ticket.key) == user
    assert seen == {"ticket": False, "user": True}
