
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('geo', '0002_revision_token'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CheckIn',
            fields=[
                ('id', models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ('at', models.DateTimeField(verbose_name='at')),
                ('lng', models.FloatField(blank=True, null=True, verbose_name='longitude (WGS-84)')),
                ('lat', models.FloatField(blank=True, null=True, verbose_name='latitude (WGS-84)')),
                ('note', models.TextField(blank=True, verbose_name='note')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('grid', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='geo.grid', verbose_name='grid')),
            ],
            options={
                'verbose_name': 'check-in',
                'verbose_name_plural': 'check-ins',
                'ordering': ['patrol', 'at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='CheckInPhoto',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('content_type', models.CharField(max_length=64)),
                ('size', models.PositiveIntegerField()),
                ('sha256', models.CharField(max_length=64)),
                ('name', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('file', models.FileField(upload_to='patrols/%Y/%m/')),
                ('checkin', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='photos', to='patrols.checkin')),
            ],
            options={
                'verbose_name': 'attachment',
                'verbose_name_plural': 'attachments',
                'ordering': ['checkin', 'id'],
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Patrol',
            fields=[
                ('id', models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ('path', models.CharField(editable=False, max_length=255)),
                ('started_at', models.DateTimeField(verbose_name='started at')),
                ('ended_at', models.DateTimeField(blank=True, null=True, verbose_name='ended at')),
                ('distance_m', models.FloatField(default=0, verbose_name='distance (m)')),
                ('duration_s', models.PositiveIntegerField(default=0, verbose_name='duration (s)')),
                ('track', models.JSONField(blank=True, default=list, verbose_name='track')),
                ('point_count', models.PositiveIntegerField(default=0, verbose_name='points')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('grid', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='patrols', to='geo.grid', verbose_name='grid')),
                ('worker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='patrols', to=settings.AUTH_USER_MODEL, verbose_name='grid worker')),
            ],
            options={
                'verbose_name': 'patrol',
                'verbose_name_plural': 'patrols',
                'ordering': ['-started_at'],
            },
        ),
        migrations.AddField(
            model_name='checkin',
            name='patrol',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='checkins', to='patrols.patrol', verbose_name='patrol'),
        ),
        migrations.AddIndex(
            model_name='patrol',
            index=models.Index(fields=['path', 'started_at'], name='patrol_path_day', opclasses=['varchar_pattern_ops', '']),
        ),
        migrations.AddIndex(
            model_name='patrol',
            index=models.Index(fields=['worker', 'started_at'], name='patrol_worker_day'),
        ),
        migrations.AddIndex(
            model_name='patrol',
            index=models.Index(fields=['grid', 'started_at'], name='patrol_grid_day'),
        ),
    ]
