# Open311 publication policy: each category says whether Open311 reads publish
# its incidents (docs/open311.md, "Publication policy"). New categories are
# private; the seed's categories are marked by incidents/taxonomy.py's rule.

from django.db import migrations, models


def mark(apps, schema_editor):
    from shanzhi.incidents.taxonomy import mark_publication

    mark_publication(apps.get_model("incidents", "Category"))


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0003_open_deadline_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='category',
            name='publication',
            field=models.CharField(choices=[('private', 'Private: never published'), ('public', 'Public'), ('coarse', 'Coarse: published, place coarsened to about 1 km')], default='private', help_text="Whether Open311 reads publish this category's incidents (those of the public channels only): never, in full, or with the place coarsened to about 1 km and the street address reduced to the region names.", max_length=8, verbose_name='Open311 publication'),
        ),
        migrations.RunPython(mark, migrations.RunPython.noop),
    ]
