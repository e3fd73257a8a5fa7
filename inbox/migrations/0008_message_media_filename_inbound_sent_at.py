# A document's file name on its message; inbound messages' sent_at, the platform's time (kept so
# far only in status_at, which an inbound message never changes after it is stored).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inbox', '0007_activity_request'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='media_filename',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.RunSQL(
            "UPDATE inbox_message SET sent_at = status_at WHERE direction = 'in' AND sent_at IS NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
