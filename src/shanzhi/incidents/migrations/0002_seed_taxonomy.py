from django.db import migrations


def seed(apps, schema_editor):
    from shanzhi.incidents.taxonomy import seed as seed_taxonomy

    seed_taxonomy(apps.get_model("incidents", "Category"),
                  apps.get_model("incidents", "CategoryRules"))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
