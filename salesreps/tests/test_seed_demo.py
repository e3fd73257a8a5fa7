"""`seed_demo` makes logins with a published password: only with DEBUG or an explicit flag."""
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from salesreps.management.commands.seed_demo import DEMO_PASSWORD
from salesreps.models import Channel


@pytest.fixture
def fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def test_seed_demo_refuses_with_debug_off_and_creates_nothing(db, fast):
    fast.DEBUG = False
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo")
    assert "published password 'switchboard-demo'" in str(refused.value)
    assert "DEBUG=true or --demo-logins" in str(refused.value)
    assert not get_user_model().objects.filter(username__in=["admin", "manager", "rep1", "rep2"]).exists()
    assert not Channel.objects.filter(name__startswith="Demo ").exists()


@pytest.mark.parametrize("debug, args", [(True, []), (False, ["--demo-logins"])])
def test_seed_demo_runs_with_debug_or_the_flag(db, fast, debug, args):
    fast.DEBUG = debug
    call_command("seed_demo", *args)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(DEMO_PASSWORD)

