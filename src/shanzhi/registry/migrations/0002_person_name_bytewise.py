"""PostgreSQL only: the people's name index in bytewise ("C") order.

``person_name`` (0001) is ``(name varchar_pattern_ops, id)``: it answers
``name LIKE '王%'`` but not ``ORDER BY name, id`` (the column's collation),
so a common two-character prefix made PostgreSQL fetch and sort every match
before taking a page. Rebuilt as ``((name COLLATE "C"), id)``, the same index
answers both the prefix (a C-collated B-tree turns ``LIKE 'prefix%'`` into a
range) and the order: ``selectors.search_people`` filters and orders by
``name COLLATE "C"`` on PostgreSQL, walks the index and stops at the page.

The model's state is unchanged (the index keeps its name and columns), so
``makemigrations`` sees nothing to do; SQLite keeps 0001's plain index (its
BINARY collation orders bytewise already).
"""

from django.db import migrations

BYTEWISE = 'CREATE INDEX person_name ON registry_person ((name COLLATE "C"), id)'
PATTERN = "CREATE INDEX person_name ON registry_person (name varchar_pattern_ops, id int8_ops)"


def _rebuild(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("DROP INDEX IF EXISTS person_name")
        schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        migrations.RunPython(_rebuild(BYTEWISE), _rebuild(PATTERN)),
    ]
