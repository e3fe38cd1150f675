# Reads without an api_key are rate-limited per client address in the same
# one-minute windows as the keys (docs/open311.md, "Publication policy").

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('open311', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='ratewindow',
            name='open311_rate_window_unique',
        ),
        migrations.AddField(
            model_name='ratewindow',
            name='client',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AlterField(
            model_name='ratewindow',
            name='key',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='open311.apikey'),
        ),
        migrations.AddIndex(
            model_name='ratewindow',
            index=models.Index(fields=['start'], name='open311_rate_window_start'),
        ),
        migrations.AddConstraint(
            model_name='ratewindow',
            constraint=models.UniqueConstraint(condition=models.Q(('key__isnull', False)), fields=('key', 'start'), name='open311_rate_window_unique'),
        ),
        migrations.AddConstraint(
            model_name='ratewindow',
            constraint=models.UniqueConstraint(condition=models.Q(('key__isnull', True)), fields=('client', 'start'), name='open311_rate_window_client_unique'),
        ),
    ]
