"""Keep Message.search filled by the database itself, so bulk inserts and raw updates are covered too.

The 'simple' configuration (no stemming, no stop words): contacts write in many languages, and
stemming every body as English would mangle the others.
"""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION inbox_message_search_update() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.body IS DISTINCT FROM OLD.body OR NEW.search IS NULL THEN
        NEW.search := to_tsvector('simple', coalesce(NEW.body, ''));
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS inbox_message_search ON inbox_message;
CREATE TRIGGER inbox_message_search BEFORE INSERT OR UPDATE ON inbox_message
    FOR EACH ROW EXECUTE FUNCTION inbox_message_search_update();

UPDATE inbox_message SET search = to_tsvector('simple', coalesce(body, '')) WHERE search IS NULL;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS inbox_message_search ON inbox_message;
DROP FUNCTION IF EXISTS inbox_message_search_update();
"""


class Migration(migrations.Migration):
    dependencies = [("inbox", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
