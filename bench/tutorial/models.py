from django.db import models


class Message(models.Model):
    sender = models.CharField(max_length=64)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False  # the harness creates the table (bench/seed.py)
        db_table = "bench_tutorial_message"
