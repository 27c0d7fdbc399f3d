"""The access epoch (suite.access.epoch): bumped by every access change, read by every
write through a long-lived session."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("access", "0001_path_functions")]
    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS communs_access_epoch",
            "DROP SEQUENCE IF EXISTS communs_access_epoch",
        ),
    ]
