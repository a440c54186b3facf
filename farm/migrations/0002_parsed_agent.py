"""The farm-wide cache of parsed user agents (analytics.tracking.agents)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('farm', '0001_ingest_schedule'),
    ]

    operations = [
        migrations.CreateModel(
            name='ParsedAgent',
            fields=[
                ('key', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('user_agent', models.TextField()),
                ('hints', models.JSONField(blank=True, default=list)),
                ('device', models.JSONField()),
                ('detector', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
    ]
