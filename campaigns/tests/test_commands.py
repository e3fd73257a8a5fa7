"""Management commands: start_campaign, stop_campaigns, campaign_stats, recover_forgotten_leads,
import_contacts (every bad row reported, nothing half-imported)."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, CampaignRecipient
from campaigns.tests.world import make_campaign, make_contact, utc, wall
from inbox.models import Contact, Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel


def run(name, *args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(_command(name), *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def _command(name):
    """campaigns' own command: inbox ships an import_contacts too, and it comes first in
    INSTALLED_APPS, so the name alone would run that one."""
    from importlib import import_module

    return import_module(f"campaigns.management.commands.{name}").Command()


@pytest.fixture
def campaign(db):
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    for _ in range(3):
        make_contact()
    return make_campaign(channel, start=wall(2030, 6, 1, 9), end=wall(2030, 6, 1, 17))


def test_start_campaign_expands_with_a_progress_bar(campaign):
    out, err = run("start_campaign", campaign.id)
    assert f"campaign {campaign.id}: 3 scheduled, 0 skipped" in out
    assert "3/3" in err  # tqdm's bar
    campaign.refresh_from_db()
    assert campaign.status == "scheduled" and Message.objects.filter(status="queued").count() == 3
    with pytest.raises(CommandError, match="only a draft can be started"):
        run("start_campaign", campaign.id)
    with pytest.raises(CommandError, match="campaign 999999 not found"):
        run("start_campaign", 999999)


def test_stop_campaigns_pauses_every_live_campaign_or_cancels(campaign):
    run("start_campaign", campaign.id)
    out, _ = run("stop_campaigns")
    assert f"campaign {campaign.id} paused: 3 unsent message(s) held" in out
    assert Campaign.objects.get().status == "paused"
    assert run("stop_campaigns")[0] == "no live campaign\n"
    out, _ = run("stop_campaigns", campaign.id, cancel=True)
    assert f"campaign {campaign.id} cancelled" in out
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}


def test_campaign_stats_prints_states_reps_and_json(campaign):
    run("start_campaign", campaign.id)
    from inbox.services.outbound import dispatch_due_messages

    dispatch_due_messages(max_seconds=60, now=utc(2030, 6, 1, 10))
    out, _ = run("campaign_stats", campaign.id)
    assert "3 recipients" in out and "sent       3" in out and "2030-06-01T10:00:00+00:00: sent 3" in out
    data = json.loads(run("campaign_stats", campaign.id, json=True)[0])
    assert data["by_state"]["sent"] == 3
    with pytest.raises(CommandError):
        run("campaign_stats", 424242)


def test_recover_forgotten_leads_command(db):
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    make_contact()
    slots = [{"start_at": wall(2030, 6, d, 9), "end_at": wall(2030, 6, d, 12)} for d in (1, 2)]
    campaign = make_campaign(channel, start=wall(2030, 6, 1), end=wall(2030, 6, 3), slots=slots)
    run("start_campaign", campaign.id)
    from inbox.services.outbound import dispatch_due_messages

    dispatch_due_messages(max_seconds=60, now=utc(2030, 6, 1, 9, 30))
    late = make_contact()
    out, _ = run("recover_forgotten_leads", "--max-attempts", "1", "--campaign", str(campaign.id))
    assert "1 lead(s) planned" in out  # the new contact; the reached one used its one attempt
    assert CampaignRecipient.objects.get(contact=late).state == "scheduled"


CSV_OK = "name,phone,email,timezone,tags,country\nAda,+14155550100,,America/Los_Angeles,vip;hot,US\nBo,,bo@example.com,,,\n"
CSV_BAD = ("name,phone,email,timezone,tags,country\nAda,+14155550100,,America/Los_Angeles,vip,US\n"
           "Bad,12,,Mars/Olympus,,\nDup,+14155550100,,,,\n")


def test_import_contacts_imports_every_row_and_scores_them(db, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(CSV_OK)
    out, _ = run("import_contacts", str(path), source="referral")
    assert out == "2 contact(s) imported\n"
    ada = Contact.objects.get(name="Ada")
    assert (ada.phone, ada.timezone, ada.tags, ada.country, ada.source) == (
        "+14155550100", "America/Los_Angeles", ["vip", "hot"], "US", "referral")
    assert ada.lead_score == 20 + 15 + 15  # vip, hot, referral (default LEAD_SCORE_RULES)


def test_import_contacts_reports_every_bad_row_and_imports_nothing(db, tmp_path):
    make_contact(phone="+14155550101")
    path = tmp_path / "contacts.csv"
    path.write_text(CSV_BAD + "Taken,+14155550101,,,,\n")
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(_command("import_contacts"), str(path), stdout=StringIO(), stderr=err)
    lines = err.getvalue()
    assert "row 3: phone: '12' has no country code" in lines
    assert "row 3: timezone: unknown time zone 'Mars/Olympus'" in lines
    assert "row 4: phone: +14155550100 is already on row 2" in lines
    assert "row 5" not in lines  # a stored phone is not a problem: that row would update its contact
    assert Contact.objects.count() == 1


def test_import_contacts_updates_the_contacts_it_matches_and_names_them(db, tmp_path):
    known = make_contact(phone="+14155550101", name="Old name", tags=["fair"])
    by_mail = make_contact(phone="", email="Bo@Example.com")
    path = tmp_path / "contacts.csv"
    path.write_text("name,phone,email,timezone,tags,country\nNew name,+14155550101,,,vip,US\nBo,,bo@example.com,,,\n"
                    "Cy,+14155550102,,,,\n")
    out, _ = run("import_contacts", str(path))
    assert out == f"1 contact(s) imported, 2 updated (contacts {', '.join(map(str, sorted([known.id, by_mail.id])))})\n"
    known.refresh_from_db()
    assert (known.name, known.tags, known.country) == ("New name", ["fair", "vip"], "US")
    assert Contact.objects.count() == 3


def test_import_contacts_beyond_the_api_limit_is_checked_in_chunks(db, tmp_path, monkeypatch):
    from campaigns.services import imports

    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    rows = [f"Lead {i},+1415555{i:04d},,,," for i in range(5)] + ["Again,+14155550003,,,,"]
    path = tmp_path / "many.csv"
    path.write_text("name,phone,email,timezone,tags,country\n" + "\n".join(rows) + "\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(_command("import_contacts"), str(path), stdout=StringIO(), stderr=err)
    assert "row 7: phone: +14155550003 is already on row 5" in err.getvalue()
    assert not Contact.objects.exists()
    path.write_text("name,phone,email,timezone,tags,country\n" + "\n".join(rows[:5]) + "\n")
    assert run("import_contacts", str(path))[0] == "5 contact(s) imported\n"
